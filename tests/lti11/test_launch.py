"""LTI 1.1 launches, signed by oauthlib, through a real JupyterHub configured as the
1.6.3 documentation configured it."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.support.hub import free_port

from .conftest import CONSUMER_SECRET, DOCS_CONFIG, LTI11Hub, launch_params, sign, unique_user

HUB_COOKIE = "jupyterhub-hub-login"


@pytest.fixture(scope="module")
def restricted_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LTI11Hub]:
    """The documented configuration plus JupyterHub allow config."""
    config = DOCS_CONFIG + 'c.Authenticator.allowed_users = {"ada@example.edu"}\n'
    workdir = tmp_path_factory.mktemp("lti11-restricted")
    hub = LTI11Hub(free_port(), workdir, config, "restricted").start()
    yield hub
    hub.stop()


def test_docs_config_launch_logs_the_user_in(lti11_hub: LTI11Hub) -> None:
    user = unique_user()
    session = requests.Session()
    form = sign(lti11_hub.launch_url, launch_params(user))

    response = lti11_hub.post_launch(form, session)

    assert response.status_code == 302, response.text[-800:]
    assert HUB_COOKIE in session.cookies
    # username_key = lis_person_contact_email_primary, from c.LTIAuthenticator
    name = f"{user}@example.edu"
    me = session.get(f"{lti11_hub.url}/hub/api/user", timeout=10)
    assert me.status_code == 200 and me.json()["name"] == name
    auth_state = lti11_hub.user(name)["auth_state"]
    assert auth_state["user_id"] == f"lti11-{user}"
    assert auth_state["context_label"] == "DATA101"
    assert not [k for k in auth_state if k.startswith("oauth_")]


def test_allow_config_still_decides_who_gets_in(restricted_hub: LTI11Hub) -> None:
    session = requests.Session()
    outsider = sign(restricted_hub.launch_url, launch_params(unique_user()))
    refused = restricted_hub.post_launch(outsider, session)
    assert refused.status_code == 403
    assert "User missing or null" in refused.text
    assert HUB_COOKIE not in session.cookies

    allowed = sign(restricted_hub.launch_url, launch_params("ada"))
    assert restricted_hub.post_launch(allowed, session).status_code == 302
    assert HUB_COOKIE in session.cookies


def test_the_hub_cookie_is_set_again_for_a_logged_in_user(lti11_hub: LTI11Hub) -> None:
    session = requests.Session()
    params = launch_params(unique_user())
    assert lti11_hub.post_launch(sign(lti11_hub.launch_url, params), session).status_code == 302

    again = lti11_hub.post_launch(sign(lti11_hub.launch_url, params), session)

    assert again.status_code == 302
    assert HUB_COOKIE in again.headers.get("Set-Cookie", "")


def test_a_replayed_launch_is_refused(lti11_hub: LTI11Hub) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()))
    assert lti11_hub.post_launch(form).status_code == 302

    replay = lti11_hub.post_launch(form)

    assert replay.status_code == 401
    assert "already used" in replay.text


@pytest.mark.parametrize(
    "signing",
    [
        {"secret": "not-the-secret"},
        {"key": "unknown-key", "secret": CONSUMER_SECRET},
        {"timestamp": str(int(time.time()) - 3600)},
        {"timestamp": str(int(time.time()) + 3600)},
    ],
    ids=["wrong-secret", "unknown-key", "old-timestamp", "future-timestamp"],
)
def test_bad_signatures_keys_and_timestamps_get_401(lti11_hub: LTI11Hub, signing) -> None:
    user = unique_user()
    form = sign(lti11_hub.launch_url, launch_params(user), **signing)

    response = lti11_hub.post_launch(form)

    assert response.status_code == 401, response.text[-800:]
    assert lti11_hub.user(f"{user}@example.edu") is None


def test_a_launch_signed_for_another_url_gets_401(lti11_hub: LTI11Hub) -> None:
    form = sign(lti11_hub.url + "/hub/lti/elsewhere", launch_params(unique_user()))
    assert lti11_hub.post_launch(form).status_code == 401


@pytest.mark.parametrize(
    "missing", ["lti_message_type", "lti_version", "resource_link_id", "user_id"]
)
def test_a_launch_without_a_required_lti_argument_gets_400(lti11_hub: LTI11Hub, missing) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user(), **{missing: None}))

    response = lti11_hub.post_launch(form)

    assert response.status_code == 400
    assert missing in response.text


@pytest.mark.parametrize(
    "missing", ["oauth_consumer_key", "oauth_nonce", "oauth_timestamp", "oauth_signature"]
)
def test_a_launch_without_a_required_oauth_argument_gets_400(lti11_hub: LTI11Hub, missing) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()))
    del form[missing]

    response = lti11_hub.post_launch(form)

    assert response.status_code == 400
    assert missing in response.text


@pytest.mark.parametrize(
    "custom_next, expected",
    [
        ("https://evil.example/hub/user-redirect/lab", "/hub/user-redirect/lab"),
        ("//evil.example/phish", "/phish"),
        ("/\\evil.example/phish", "/%5Cevil.example/phish"),
        (
            "/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb&branch=main"
            "&urlpath=lab%2Ftree%2Fb",
            "/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb&branch=main"
            "&urlpath=lab%2Ftree%2Fb",
        ),
    ],
    ids=["off-site-url", "scheme-relative", "backslash", "nbgitpuller-link"],
)
def test_custom_next_stays_on_the_hub(lti11_hub: LTI11Hub, custom_next, expected) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user(), custom_next=custom_next))

    response = lti11_hub.post_launch(form)

    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_without_custom_next_the_user_goes_to_the_default_next_url(lti11_hub: LTI11Hub) -> None:
    response = lti11_hub.post_launch(sign(lti11_hub.launch_url, launch_params(unique_user())))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path.startswith(("/hub/", "/user/"))
    assert urlsplit(response.headers["Location"]).netloc in ("", urlsplit(lti11_hub.url).netloc)


def test_the_config_xml_is_served(lti11_hub: LTI11Hub) -> None:
    response = requests.get(f"{lti11_hub.url}/hub/lti11/config", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own hub's answer
    blti = "{http://www.imsglobal.org/xsd/imsbasiclti_v1p0}"
    assert root.find(f"{blti}title").text == "JupyterHub"
    assert root.find(f"{blti}description").text == "JupyterHub LTI 1.1 external tool"
    assert root.find(f"{blti}launch_url").text == lti11_hub.launch_url


# -- hostile input: refused with a 4xx, never a 500 ------------------------------------


def test_a_repeated_argument_gets_400(lti11_hub: LTI11Hub) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()))
    body = urlencode(list(form.items()) + [("user_id", "someone-else")])

    response = lti11_hub.post_launch(
        body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 400
    assert "more than once" in response.text


def test_a_query_argument_repeating_a_form_argument_gets_400(lti11_hub: LTI11Hub) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()))
    response = requests.post(
        lti11_hub.launch_url + "?user_id=admin", data=form, allow_redirects=False, timeout=15
    )
    assert response.status_code == 400


def test_bytes_that_are_not_utf8_get_400(lti11_hub: LTI11Hub) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()))
    body = urlencode(form).encode() + b"&custom_x=%FF%FE"

    response = lti11_hub.post_launch(
        body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 400
    assert "UTF-8" in response.text


def test_a_huge_value_gets_413(lti11_hub: LTI11Hub) -> None:
    params = launch_params(unique_user(), custom_blob="x" * (200 * 1024))
    response = lti11_hub.post_launch(sign(lti11_hub.launch_url, params))
    assert response.status_code == 413


@pytest.mark.parametrize(
    "timestamp", ["abc", "12345", "1" * 11, "-123456789", "１２３４５６７８９０"]
)
def test_a_malformed_timestamp_gets_401(lti11_hub: LTI11Hub, timestamp) -> None:
    form = sign(lti11_hub.launch_url, launch_params(unique_user()), timestamp=timestamp)
    response = lti11_hub.post_launch(form)
    assert response.status_code == 401
    assert "oauth_timestamp" in response.text


def test_get_on_the_launch_url_gets_405(lti11_hub: LTI11Hub) -> None:
    response = requests.get(lti11_hub.launch_url, allow_redirects=False, timeout=10)
    assert response.status_code == 405
    assert response.headers.get("Allow") == "POST"


def test_no_refusal_crashed_the_hub(lti11_hub: LTI11Hub) -> None:
    """Whatever ran before in this module, the hub logged no 500 and no traceback."""
    log = lti11_hub.log_text()
    assert " 500 " not in log and "Traceback" not in log
    assert CONSUMER_SECRET not in log
