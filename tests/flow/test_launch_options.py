"""Launch variations a real deployment meets: usernames, client ids, next URLs, clocks."""

from __future__ import annotations

import html
import subprocess
import sys
from urllib.parse import quote

import pytest

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.platform_emulator import Launch

from ..support.hub import REPO

# -- usernames ----------------------------------------------------------------------------


def test_username_defaults_to_email_normalised(hub, emulator, client, user):
    _, url = emulator.start_launch(
        Launch(user=user, claims={"email": f"{user.upper()}@Example.EDU"})
    )
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


def test_privacy_launch_without_email_falls_back_to_sub(hub, emulator, client, user):
    _, url = emulator.start_launch(
        Launch(user=user, claims={"email": None, "name": None, "given_name": None})
    )
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"sub-{user}") is not None


def test_empty_email_falls_back_to_sub(hub, emulator, client, user):
    _, url = emulator.start_launch(Launch(user=user, claims={"email": ""}))
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"sub-{user}") is not None


def test_username_from_given_name(hub_with, emulator, client, user):
    hub = hub_with(LTI13Authenticator={"username_key": "given_name"})
    _, url = emulator.start_launch(Launch(user=user, claims={"given_name": f"Given{user}"}))
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"given{user}") is not None


def test_username_from_custom_parameter(hub_with, emulator, client, user):
    hub = hub_with(LTI13Authenticator={"username_key": "custom_uname"})
    _, url = emulator.start_launch(
        Launch(user=user, claims={c.CUSTOM_CLAIM: {"uname": f"c-{user}"}})
    )
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"c-{user}") is not None


def test_custom_key_missing_falls_back_to_sub(hub_with, emulator, client, user):
    hub = hub_with(LTI13Authenticator={"username_key": "custom_uname"})
    _, url = emulator.start_launch(Launch(user=user, claims={c.CUSTOM_CLAIM: {}}))
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"sub-{user}") is not None


# -- client ids and audiences ----------------------------------------------------------------

SEVERAL = {"LTI13Authenticator": {"client_id": ["another-tool", "jupyterhub-tool"]}}


def test_several_client_ids_accept_a_launch_for_any_of_them(hub_with, emulator, client, user):
    hub = hub_with(**SEVERAL)
    _, url = emulator.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


def test_aud_list_with_our_azp_is_accepted(hub_with, emulator, client, user):
    hub = hub_with(**SEVERAL)
    _, url = emulator.start_launch(
        Launch(
            user=user, aud=["jupyterhub-tool", "another-tool"], claims={"azp": "jupyterhub-tool"}
        )
    )
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


def test_without_client_id_and_several_configured_login_is_400(hub_with, emulator, client):
    hub_with(**SEVERAL)
    _, url = emulator.start_launch(Launch(send_client_id=False))
    response = client.login_initiation(url)
    assert response.status_code == 400
    assert "did not send a client_id and several client ids are configured" in html.unescape(
        response.text
    )


def test_without_client_id_and_one_configured_the_one_is_used(hub, emulator, client, user):
    _, url = emulator.start_launch(Launch(user=user, send_client_id=False))
    result = client.launch(url)
    assert "client_id=jupyterhub-tool" in result.login.headers["Location"]
    assert result.callback.status_code == 302


def test_single_client_id_as_a_plain_string_in_config(hub_with, emulator, client, user):
    hub = hub_with(LTI13Authenticator={"client_id": "jupyterhub-tool"})
    _, url = emulator.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


# -- next URL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target_link_uri", "expected"),
    [
        ("{hub}/hub/", "/hub/spawn"),
        ("{hub}/", "/hub/spawn"),
        ("{hub}/user-redirect/lab/tree/week1.ipynb", "/user-redirect/lab/tree/week1.ipynb"),
        (
            "{hub}/hub/?next=" + quote("/user-redirect/git-pull?repo=x&branch=main"),
            "/user-redirect/git-pull",
        ),
        ("https://evil.example/user-redirect/lab", "/user-redirect/lab"),
        ("{hub}/hub/?next=" + quote("https://evil.example/steal"), "/steal"),
        ("{hub}/hub/?next=" + quote("//evil.example/steal"), "/steal"),
        ("{hub}/hub/?next=" + quote("/\\evil.example"), "/%5Cevil.example"),
        ("{hub}/hub/?next=" + quote("javascript:alert(1)"), "/hub/spawn"),
    ],
)
def test_next_url_from_target_link_uri_stays_on_the_hub(
    hub, emulator, client, user, target_link_uri, expected
):
    launch = Launch(user=user, target_link_uri=target_link_uri.format(hub=hub.url))
    _, url = emulator.start_launch(launch)
    result = client.launch(url)
    assert result.callback.status_code == 302
    location = result.callback.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert location.split("?")[0] == expected


@pytest.mark.parametrize(
    "next_url", ["/user-redirect/lab", "https://evil.example/x", "\\\\evil.example/x"]
)
def test_unsigned_next_argument_never_decides_where_the_user_lands(
    hub, emulator, client, user, next_url
):
    """Anyone can craft a login initiation URL; only the signed target_link_uri counts."""
    _, url = emulator.start_launch(user=user)
    result = client.launch(url + "&next=" + quote(next_url))
    assert result.callback.status_code == 302
    assert result.callback.headers["Location"].split("?")[0] == "/hub/spawn"


# -- clocks -----------------------------------------------------------------------------------


def test_platform_clock_ahead_is_refused_without_leeway(hub, emulator, client, user):
    _, url = emulator.start_launch(Launch(user=user, iat_offset=20))
    assert client.launch(url).callback.status_code == 400


def test_time_leeway_accepts_a_platform_clock_slightly_ahead(hub_with, emulator, client, user):
    hub = hub_with(LTI13LaunchValidator={"time_leeway": 30})
    _, url = emulator.start_launch(Launch(user=user, iat_offset=20))
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu") is not None


def test_time_leeway_does_not_stretch_forever(hub_with, emulator, client, user):
    hub_with(LTI13LaunchValidator={"time_leeway": 30})
    _, url = emulator.start_launch(Launch(user=user, iat_offset=90))
    assert client.launch(url).callback.status_code == 400


def test_max_age_is_configurable(hub_with, emulator, client, user):
    hub_with(LTI13LaunchValidator={"max_age": 60})
    _, url = emulator.start_launch(Launch(user=user, iat_offset=-120, exp_seconds=600))
    response = client.launch(url).callback
    assert response.status_code == 400
    assert "issued more than 60 seconds ago" in html.unescape(response.text)


# -- logs and start-up --------------------------------------------------------------------------


def test_nothing_secret_reaches_the_hub_log(hub, emulator, client, user):
    launch, url = emulator.start_launch(user=user)
    result = client.launch(url)
    assert result.callback.status_code == 302
    _, bad_url = emulator.start_launch(Launch(user=user + "b", aud="someone-else"))
    bad = client.launch(bad_url)
    assert bad.callback.status_code == 401
    log = hub.log_text()
    secrets_seen = {
        "id_token": result.form["id_token"],
        "bad id_token": bad.form["id_token"],
        "state": result.form["state"],
        "payload segment": result.form["id_token"].split(".")[1][:40],
        "nonce": bad.login.headers["Location"].split("nonce=")[1].split("&")[0],
        "login_hint": launch.login_hint,
        "lti_message_hint": launch.id,
    }
    # the launch cookies (JupyterHub's own session cookies are its business, at DEBUG)
    for i, response in enumerate((result.login, bad.login)):
        for cookie in response.cookies:
            secrets_seen[f"cookie {cookie.name} of launch {i}"] = cookie.value
    assert len(secrets_seen) == 11
    # the log searched is this test's, and it does record both launches' requests
    assert log.count("GET /hub/lti13/oauth_login") == 2
    assert "302 POST /hub/lti13/oauth_callback" in log
    assert "401 POST /hub/lti13/oauth_callback" in log
    for what, value in secrets_seen.items():
        assert value not in log, f"the hub log contains the {what}"
    # but each refusal is logged once, with its reason
    assert log.count("LTI 1.3 launch refused: HTTP 401 wrong_audience") == 1


def test_hub_refuses_to_start_with_incomplete_configuration(tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        'c.JupyterHub.authenticator_class = "lti13"\n'
        'c.LTI13Authenticator.client_id = ["x"]\n'
        'c.LTI13Authenticator.authorize_url = "http://lms.example.edu/auth"\n'
        f'c.JupyterHub.db_url = "sqlite:///{tmp_path}/db.sqlite"\n'
        f'c.JupyterHub.cookie_secret_file = "{tmp_path}/secret"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "jupyterhub", "-f", str(config), "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": f"{REPO}/node_modules/.bin:/usr/bin:/bin"},
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "LTI13Authenticator.issuer is not set" in output
    assert "LTI13Authenticator.jwks_endpoint is not set" in output
    assert "LTI13Authenticator.authorize_url must be an https URL" in output
