"""Cookie-less launches through the platform's client-side storage, driven over HTTP.

The test plays the browser's part of the postMessage exchange by reading the pages'
configuration (which keys to put and get) and answering as the storage frame would;
tests/browser runs the same flow in a real Chromium.
"""

from __future__ import annotations

import html
import re

from ltiauthenticator.lti13 import _platform_storage as storage
from ltiauthenticator.lti13.handlers import NONCE_STATE_COOKIE_NAME, STATE_COOKIE_NAME

from ..support.storage import (
    FRAME,
    answer_from_storage,
    page_config,
    post_from_storage_page,
    storage_launch,
)


def test_login_initiation_with_storage_target_stores_state_and_nonce_in_the_platform(
    hub, emulator, client, user
):
    login, config, _, form = storage_launch(emulator, client, user)
    assert config["mode"] == "put" and config["target"] == FRAME
    # secrets go to the platform's origin only, never "*"
    assert config["origin"] == emulator.url
    assert config["origins"] == [emulator.url]
    stored = dict(config["items"])
    state_key, nonce_key = sorted(stored, key=lambda k: "nonce" in k)
    assert stored[state_key] == form["state"]
    assert config["next"].startswith(emulator.authorize_url + "?")
    # the cookies are still set, with the usual attributes
    cookies = login.headers.get("Set-Cookie", "")
    assert STATE_COOKIE_NAME in cookies and NONCE_STATE_COOKIE_NAME in cookies
    assert login.headers["Cache-Control"] == "no-store"
    assert f"frame-ancestors 'self' {emulator.url}" in login.headers["Content-Security-Policy"]


def test_launch_without_cookies_completes_with_platform_storage(hub, emulator, client, user):
    _, config, action, form = storage_launch(emulator, client, user)
    kept = dict(config["items"])
    client.session.cookies.clear()  # the browser kept nothing

    first = client.post_form(action, form)
    assert first.status_code == 200, first.text[-800:]
    ask = page_config(first.text)
    assert ask["mode"] == "get" and ask["origin"] == emulator.url
    assert form["id_token"] not in first.text and form["state"] not in first.text
    second = post_from_storage_page(client, hub, action, answer_from_storage(ask, kept))
    assert second.status_code == 302, second.text[-800:]
    assert client.hub_path(second) == "/hub/spawn"
    assert hub.user(f"{user}@example.edu") is not None

    # the ticket is single use, and so are state and nonce
    again = post_from_storage_page(client, hub, action, answer_from_storage(ask, kept))
    assert again.status_code == 400
    client.session.cookies.clear()
    replay = client.post_form(action, form)
    assert replay.status_code == 400  # a used token does not even get parked again
    assert "already used" in replay.text


def test_storage_values_are_checked_like_cookies(hub, emulator, client, user):
    _, config, action, form = storage_launch(emulator, client, user)
    kept = dict(config["items"])
    client.session.cookies.clear()
    ask = page_config(client.post_form(action, form).text)
    state_key, nonce_key = ask["keys"]
    fields = ask["fields"]
    wrong_nonce = post_from_storage_page(
        client,
        hub,
        action,
        {
            fields["ticket"]: ask["ticket"],
            fields["state"]: kept[state_key],
            fields["nonce_state"]: "not-the-nonce-state",
        },
    )
    assert wrong_nonce.status_code == 400
    assert "nonce mismatch" in wrong_nonce.text
    assert hub.user(f"{user}@example.edu") is None

    ask = page_config(client.post_form(action, form).text)
    wrong_state = post_from_storage_page(
        client,
        hub,
        action,
        {
            fields["ticket"]: ask["ticket"],
            fields["state"]: kept[state_key] + "x",
            fields["nonce_state"]: kept[nonce_key],
        },
    )
    assert wrong_state.status_code == 400 and "state mismatch" in wrong_state.text


def test_storage_failure_shows_the_reopen_page(hub, emulator, client, user):
    _, _, action, form = storage_launch(emulator, client, user)
    client.session.cookies.clear()
    ask = page_config(client.post_form(action, form).text)
    fields = ask["fields"]
    failed = post_from_storage_page(
        client, hub, action, {fields["ticket"]: ask["ticket"], fields["error"]: "timeout"}
    )
    assert failed.status_code == 400
    assert "OAuth state missing from cookies" in hub.log_text()
    assert "lti13-open-in-new-window" in failed.text


def test_unknown_ticket_is_refused(hub, emulator, client, user):
    """A well-formed storage answer whose ticket the hub never gave out is refused.

    Everything else in the POST is genuine (this launch's state and nonce state from the
    storage, and even its id_token and state), so only the ticket can refuse it.
    """
    _, config, action, form = storage_launch(emulator, client, user)
    kept = dict(config["items"])
    client.session.cookies.clear()
    ask = page_config(client.post_form(action, form).text)
    state_key, nonce_key = ask["keys"]
    fields = ask["fields"]
    assert fields["ticket"] == storage.TICKET_FIELD
    response = post_from_storage_page(
        client,
        hub,
        action,
        {
            "id_token": form["id_token"],
            "state": form["state"],
            fields["ticket"]: ask["ticket"][:-4] + "AAAA",
            fields["state"]: kept[state_key],
            fields["nonce_state"]: kept[nonce_key],
        },
    )
    assert response.status_code == 400
    assert "not (or no longer) waiting for the platform's storage" in html.unescape(response.text)
    assert hub.user(f"{user}@example.edu") is None
    # the genuine ticket still works: it was the ticket, and only it, that was refused
    genuine = post_from_storage_page(client, hub, action, answer_from_storage(ask, kept))
    assert genuine.status_code == 302, genuine.text[-800:]


def test_cookies_blocked_page_offers_to_reopen_the_launch(hub, emulator, client, user):
    launch, url = emulator.start_launch(user=user)
    result = client.launch(url, tamper=lambda form: client.session.cookies.clear())
    response = result.callback
    assert response.status_code == 400
    assert "OAuth state missing from cookies" in hub.log_text()
    # framable by the platform, so the explanation shows inside the LMS iframe
    assert f"frame-ancestors 'self' {emulator.url}" in response.headers["Content-Security-Policy"]
    match = re.search(
        r"id='lti13-open-in-new-window' href='([^']+)' target='_blank'", response.text
    )
    assert match, response.text[-2000:]
    relaunch = match.group(1).replace("&amp;", "&")
    assert relaunch.startswith("/hub/lti13/oauth_login?")
    # the link starts the same launch again, and in a fresh (first-party) window it works
    again = client.launch(hub.url + relaunch)
    assert again.callback.status_code == 302, again.final.text[-800:]
    assert hub.user(f"{user}@example.edu") is not None
