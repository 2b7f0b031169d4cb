"""Cookie-less launches through the platform's storage, played the way a browser does.

The pages the hub serves carry their configuration as JSON; the helpers read it and post
what the page's script would, from the hub's own origin.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Tuple

import requests

from ltiauthenticator.platform_emulator import Launch

from .client import LaunchClient, parse_form

FRAME = "post_message_forwarding"


def page_config(page: str) -> Dict[str, Any]:
    """The JSON configuration of a platform-storage page (put or get)."""
    match = re.search(r"id='lti-storage-config'>(.*?)</script>", page, re.S)
    assert match, page[:1500]
    return json.loads(match.group(1))


def post_from_storage_page(
    client: LaunchClient, hub: Any, action: str, fields: Dict[str, str]
) -> requests.Response:
    """The storage page's POST: a same-origin form submission, as a browser sends it."""
    return client.session.post(
        action, data=fields, headers={"Origin": hub.url}, allow_redirects=False, timeout=30
    )


def storage_launch(
    emulator: Any, client: LaunchClient, user: str, **launch: Any
) -> Tuple[requests.Response, Dict[str, Any], str, Dict[str, str]]:
    """Login initiation with ``lti_storage_target``; the platform's auto-submit form.

    Returns the hub's answer (the put page), its configuration, the form's action and the
    form (id_token and state).
    """
    _, url = emulator.start_launch(Launch(user=user, storage_target=FRAME, **launch))
    login = client.login_initiation(url)
    assert login.status_code == 200, login.text[-500:]
    config = page_config(login.text)
    authorization = client.session.get(config["next"], timeout=15)
    action, form = parse_form(authorization.text, authorization.url)
    return login, config, action, form


def answer_from_storage(ask: Dict[str, Any], kept: Dict[str, str]) -> Dict[str, str]:
    """What the get page posts back: the ticket, with the values the platform kept."""
    state_key, nonce_key = ask["keys"]
    fields = ask["fields"]
    return {
        fields["ticket"]: ask["ticket"],
        fields["state"]: kept[state_key],
        fields["nonce_state"]: kept[nonce_key],
    }


def finish_without_cookies(
    hub: Any, emulator: Any, client: LaunchClient, user: str, **launch: Any
) -> Tuple[requests.Response, str, Dict[str, str]]:
    """A whole cookie-less launch; returns the final answer, the action and the form."""
    _, config, action, form = storage_launch(emulator, client, user, **launch)
    client.session.cookies.clear()  # the browser kept nothing
    ask = page_config(client.post_form(action, form).text)
    answer = answer_from_storage(ask, dict(config["items"]))
    return post_from_storage_page(client, hub, action, answer), action, form
