"""Launch integrity (issue 9): each attack of the audit, through a real hub over HTTP.

Every test plays the attacker with what an attacker has: their own LMS account (so
genuinely signed tokens for themselves), their own browser, a page on another origin
that makes the victim's browser post forms, and any request parameters they like.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jupyterhub
import pytest
import requests

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13.handlers import _serialize_state
from ltiauthenticator.platform_emulator import Launch

from ..support.client import LaunchClient, parse_form
from ..support.emulator import EmulatorServer, registration
from ..support.hub import free_port
from ..support.storage import (
    FRAME,
    answer_from_storage,
    finish_without_cookies,
    page_config,
    storage_launch,
)

HUB_LOGIN_COOKIES = ("jupyterhub-session-id", "jupyterhub-hub-login")

needs_jupyterhub5 = pytest.mark.skipif(
    int(jupyterhub.__version__.split(".")[0]) < 5,
    reason="Authenticator.manage_roles arrived in JupyterHub 5",
)


def logged_in_as(client: LaunchClient, hub) -> Any:
    """The hub user this browser is logged in as, or None."""
    response = client.session.get(hub.url + "/hub/api/user", timeout=10)
    return response.json()["name"] if response.status_code == 200 else None


@pytest.fixture(scope="module")
def second_lms(hub_port):
    """Another LMS with its own issuer and keys."""
    server = EmulatorServer(
        "127.0.0.1", free_port(), hub_url=f"http://127.0.0.1:{hub_port}", client_id="second-tool"
    ).start()
    yield server
    server.stop()


def storage_login(emulator, client, user):
    """A login initiation offering platform storage; the platform's auto-submit form."""
    _, config, action, form = storage_launch(emulator, client, user)
    return dict(config["items"]), action, form


# -- 1. login CSRF through the cookie-less path ------------------------------------------------


def test_a_state_the_attacker_wrote_gets_no_ticket(hub, emulator, user):
    """Mallory signs in at her LMS with a state and nonce of her own choosing."""
    launch, _ = emulator.start_launch(Launch(user=f"mallory{user}"))
    forged_state = _serialize_state(
        {"state_id": "chosen", "storage": FRAME, "platform": emulator.url, "next_url": "/hub/home"}
    )
    token = emulator.sign(emulator.claims_for(launch, "n" * 64))
    response = requests.post(
        hub.url + "/hub/lti13/oauth_callback",
        data={"id_token": token, "state": forged_state},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "lti_storage_ticket" not in response.text and "lti-storage-config" not in response.text
    assert hub.user(f"mallory{user}@example.edu") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # neither header: refused too
    ],
    ids=["evil-origin", "null-origin", "cross-site", "no-origin"],
)
def test_a_parked_launch_cannot_be_finished_from_another_site(hub, emulator, user, headers):
    """Mallory parks her own genuine launch, then makes the victim's browser finish it."""
    mallory = LaunchClient()
    kept, action, form = storage_login(emulator, mallory, f"mallory{user}")
    first = requests.post(action, data=form, allow_redirects=False, timeout=10)  # no cookies
    assert first.status_code == 200
    victim = LaunchClient()
    response = victim.session.post(
        action,
        data=answer_from_storage(page_config(first.text), kept),
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "this hub's own sign-in page" in html.unescape(response.text)
    assert not any(name in victim.session.cookies for name in HUB_LOGIN_COOKIES)
    assert logged_in_as(victim, hub) is None
    assert hub.user(f"mallory{user}@example.edu") is None


def test_the_hubs_own_storage_page_still_finishes_the_launch(hub, emulator, client, user):
    _, config, action, form = storage_launch(emulator, client, user)
    client.session.cookies.clear()
    ask = page_config(client.post_form(action, form).text)
    response = client.session.post(
        action,
        data=answer_from_storage(ask, dict(config["items"])),
        headers={"Sec-Fetch-Site": "same-origin"},  # no Origin: the fetch metadata decides
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[-600:]
    assert logged_in_as(client, hub) == f"{user}@example.edu"


def test_launch_cookies_are_bound_to_the_login_and_host_only_over_https(hub, emulator, client):
    _, url = emulator.start_launch()
    login = client.login_initiation(url)
    names = [c.name for c in client.session.cookies]
    # over plain http (this test hub) the names carry the login's tag; over https they are
    # __Host- cookies (tests/unit/test_launch_cookies.py), which no sibling host can set
    assert len(names) == 2 and all(
        re.fullmatch(r"lti13authenticator-[a-z-]+-[0-9a-f]{16}", n) for n in names
    )
    assert login.status_code == 302


# -- 2. groups and scopes keyed on the course, not its label -----------------------------------


@needs_jupyterhub5
def test_an_instructor_elsewhere_with_the_same_course_label_reaches_nobody(
    hub_with, emulator, second_lms, user
):
    hub = hub_with(
        Authenticator={"manage_groups": True, "manage_roles": True},
        LTI13Authenticator={
            "role_scopes": {
                "Instructor": [
                    "access:servers!group={course}-learners",
                    "read:users!group={course}-learners",
                ]
            },
            "platforms": [registration(second_lms, name="second", username_prefix="second-")],
        },
    )
    learner = LaunchClient()
    _, url = emulator.start_launch(
        Launch(user=f"learner{user}", course={"id": f"a-{user}", "label": "DATA101", "title": "D"})
    )
    assert learner.launch(url).callback.status_code == 302
    teacher = LaunchClient()
    _, url = second_lms.start_launch(
        Launch(
            user=f"teacher{user}",
            role="instructor",
            course={"id": f"b-{user}", "label": "data101", "title": "Sandbox"},
        )
    )
    assert teacher.launch(url).callback.status_code == 302

    learner_name = f"learner{user}@example.edu"
    teacher_groups = hub.user(f"second-teacher{user}@example.edu")["groups"]
    assert set(hub.user(learner_name)["groups"]).isdisjoint(
        {g.replace("instructors", "learners") for g in teacher_groups}
    )
    response = teacher.session.get(f"{hub.url}/hub/api/users/{learner_name}", timeout=10)
    assert response.status_code in (403, 404)


def test_course_labels_that_differ_only_in_spelling_stay_apart(hub_with, emulator, user):
    hub = hub_with(Authenticator={"manage_groups": True})
    groups = []
    for index, label in enumerate(["CS 101", "cs_101", "CS-101"]):
        _, url = emulator.start_launch(
            Launch(user=f"s{index}{user}", course={"id": f"{user}-{index}", "label": label})
        )
        assert LaunchClient().launch(url).callback.status_code == 302
        groups.append(tuple(hub.user(f"s{index}{user}@example.edu")["groups"]))
    assert len(set(groups)) == 3


# -- 3. one park per token, refused (not evicting) when full ----------------------------------


def test_one_token_parks_once(hub, emulator, client, user):
    _, action, form = storage_login(emulator, client, user)
    first = requests.post(action, data=form, allow_redirects=False, timeout=10)
    assert first.status_code == 200
    again = requests.post(action, data=form, allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert "already waiting" in again.text


# -- 4. usernames per platform, admin names tied to their platform ----------------------------


def test_another_platform_cannot_claim_an_admin_name(hub_with, emulator, second_lms, user):
    admin = f"prof{user}@example.edu"
    hub = hub_with(
        Authenticator={"admin_users": {admin}},
        LTI13Authenticator={
            "platforms": [registration(second_lms, name="second", username_prefix="second-")]
        },
    )
    _, url = second_lms.start_launch(Launch(user=f"prof{user}"))  # same email, other LMS
    assert LaunchClient().launch(url).callback.status_code == 302
    assert hub.user(f"second-{admin}")["admin"] is False
    assert hub.user(admin) is None or hub.user(admin)["admin"] is True


def test_a_shared_namespace_still_keeps_admin_names_to_their_platform(
    hub_with, emulator, second_lms, user
):
    admin = f"prof{user}@example.edu"
    hub = hub_with(
        Authenticator={"admin_users": {admin}},
        LTI13Authenticator={
            "shared_username_namespace": True,
            "platforms": [registration(second_lms, name="second")],
        },
    )
    _, url = second_lms.start_launch(Launch(user=f"prof{user}"))
    response = LaunchClient().launch(url).callback
    assert response.status_code == 403
    assert "administrator" in response.text
    _, url = emulator.start_launch(Launch(user=f"prof{user}"))
    assert LaunchClient().launch(url).callback.status_code == 302
    assert hub.user(admin)["admin"] is True


# -- 5. two launches in flight in one browser --------------------------------------------------


def test_two_launches_in_flight_both_land(hub, emulator, client, user):
    """Two tool links on one course page, or a double click: both complete."""
    logins = [client.login_initiation(emulator.start_launch(user=user)[1]) for _ in range(2)]
    pages = [client.authorize(login) for login in logins]
    forms = [parse_form(page.text, page.url) for page in pages]
    for action, form in reversed(forms):  # the later one first, then the earlier one
        response = client.post_form(action, form)
        assert response.status_code == 302, response.text[-600:]


# -- 6. unparsable next URLs, and logs without login hints -------------------------------------


@pytest.mark.parametrize("where", ["next", "target_link_uri"])
def test_unparsable_next_url_is_never_a_500(hub, emulator, client, user, where):
    launch = Launch(user=user, login_hint=f"secret-hint-{user}")
    if where == "target_link_uri":
        launch.target_link_uri = hub.url + "/hub/?next=http://[::1"
    _, url = emulator.start_launch(launch)
    if where == "next":
        url += "&next=" + quote("http://[::1")
    result = client.launch(url)
    assert result.login.status_code == 302
    assert result.callback.status_code == 302
    assert f"secret-hint-{user}" not in hub.log_text()


# -- 7. a failed or unverifiable launch does not burn its state --------------------------------


def test_a_forged_token_does_not_burn_the_genuine_launch(hub, emulator, client, user):
    launch, url = emulator.start_launch(user=user)
    login = client.login_initiation(url)
    page = client.authorize(login)
    action, form = parse_form(page.text, page.url)
    forged = dict(form, id_token=emulator.sign(emulator.claims_for(launch, "f" * 64)))
    assert client.post_form(action, forged).status_code == 400
    assert client.post_form(action, form).status_code == 302


def test_keys_unreachable_then_try_again_works(hub_with, second_lms, user):
    hub = hub_with(
        JWKSCache={"error_retry_interval": 0.0},
        LTI13Authenticator={
            "platforms": [registration(second_lms, name="second", username_prefix="second-")]
        },
    )
    client = LaunchClient()
    second_lms.platform.jwks_status = 500
    try:
        _, url = second_lms.start_launch(user=user)
        page = client.authorize(client.login_initiation(url))
        action, form = parse_form(page.text, page.url)
        assert client.post_form(action, form).status_code == 503
    finally:
        second_lms.platform.jwks_status = 200
    assert client.post_form(action, form).status_code == 302
    assert hub.user(f"second-{user}@example.edu") is not None


# -- 9. control characters never reach the log raw ---------------------------------------------


def test_control_characters_are_escaped_in_the_log(hub, emulator, client):
    launch, _ = emulator.start_launch()
    params = dict(
        emulator.login_parameters(launch),
        iss="https://x.example\r\nFORGED LOG LINE\x1b[31m",
        client_id="c\nFORGED CLIENT",
        lti_deployment_id="d\rFORGED DEPLOYMENT",
    )
    response = client.session.get(
        hub.url + "/hub/lti13/oauth_login", params=params, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    log = hub.log_text()
    (line,) = [line for line in log.splitlines() if "LTI 1.3 login refused" in line]
    assert "\\r\\nFORGED LOG LINE\\x1b[31m" in line
    assert "\\nFORGED CLIENT" in line and "\\rFORGED DEPLOYMENT" in line
    assert not re.search(r"^FORGED", log, re.M)
    assert "\rFORGED" not in log and "\nFORGED" not in log and "\x1b[31m\n" not in log


# -- 10. signed oddities ------------------------------------------------------------------------


@pytest.mark.parametrize("oddity", ["NaN", "Infinity", "crit"])
def test_signed_oddities_are_refused(hub, emulator, client, user, oddity):
    launch, url = emulator.start_launch(user=user)

    def odd_token(form):
        nonce = json.loads(base64.urlsafe_b64decode(form["id_token"].split(".")[1] + "=="))["nonce"]
        claims = emulator.claims_for(launch, nonce)
        if oddity == "crit":
            form["id_token"] = emulator.sign(claims, {"crit": ["urn:example:ext"]})
            return
        text = json.dumps(claims)
        text = re.sub(r'"exp": \d+', f'"exp": {oddity}', text)
        text = re.sub(r'"iat": \d+', f'"iat": {oddity}', text)
        form["id_token"] = emulator.sign_raw_payload(text.encode())

    response = client.launch(url, tamper=odd_token).callback
    assert response.status_code == 400
    assert hub.user(f"{user}@example.edu") is None


# -- 11. URLs from public_url, not from the Host header -----------------------------------------


@pytest.mark.skipif(
    int(jupyterhub.__version__.split(".")[0]) < 5,
    reason="JupyterHub.public_url arrived in JupyterHub 5",
)
def test_config_json_and_redirect_uri_follow_public_url(hub_with, emulator, client, user):
    public = "https://hub.example.edu"
    hub = hub_with(JupyterHub={"public_url": public + "/"})
    response = requests.get(
        hub.url + "/hub/lti13/config", headers={"Host": "evil.example"}, timeout=10
    )
    assert response.headers["Cache-Control"] == "no-store"
    document = response.json()
    assert "evil.example" not in json.dumps(document)
    assert document["oidc_initiation_url"] == public + "/hub/lti13/oauth_login"
    assert document["public_jwk_url"] == public + "/hub/lti13/jwks"
    _, url = emulator.start_launch(user=user)
    login = client.session.get(
        url, headers={"Host": "evil.example"}, allow_redirects=False, timeout=10
    )
    redirect_uri = parse_qs(urlsplit(login.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == public + "/hub/lti13/oauth_callback"


# -- 12. a long lti_message_hint does not break the launch -------------------------------------


def test_a_long_message_hint_keeps_the_cookies_small(hub, emulator, client, user):
    # the emulator's lti_message_hint is the launch id; Canvas sends ~2 KB hints
    launch = Launch(user=user, id="h" * 2500, claims={c.RESOURCE_LINK_CLAIM: {"id": "rl-1"}})
    _, url = emulator.start_launch(launch)
    result = client.launch(url)
    cookies = result.login.headers.get("Set-Cookie", "")
    assert all(len(part) < 1024 for part in cookies.split(", lti13"))
    assert result.callback.status_code == 302, result.final.text[-600:]


# -- 13. Helm-style numbers in the platforms config -------------------------------------------


def test_numeric_client_id_in_platforms_starts_and_launches(hub_port, hub_with, user):
    numeric = EmulatorServer(
        "127.0.0.1", free_port(), hub_url=f"http://127.0.0.1:{hub_port}", client_id="10000000000042"
    ).start()
    try:
        hub = hub_with(
            LTI13Authenticator={
                "platforms": [
                    registration(numeric, client_id=10000000000042, username_prefix="n-", name="n")
                ]
            }
        )
        _, url = numeric.start_launch(user=user)
        assert LaunchClient().launch(url).callback.status_code == 302
        assert hub.user(f"n-{user}@example.edu") is not None
    finally:
        numeric.stop()


# -- 17. the next URL, from the signed target_link_uri; nbgitpuller links survive --------------


def test_an_unencoded_nbgitpuller_link_survives(hub, emulator, client, user):
    pull = (
        "/hub/user-redirect/git-pull?repo=https://github.com/example/course"
        "&branch=main&urlpath=lab/tree/course/week1.ipynb"
    )
    _, url = emulator.start_launch(
        Launch(user=user, target_link_uri=hub.url + "/hub/?next=" + pull)
    )
    response = client.launch(url).callback
    assert response.status_code == 302
    assert response.headers["Location"] == pull


# -- 18. the registration that verified the launch picks the username key ---------------------


def test_username_key_of_the_verifying_registration(hub_port, hub_with, emulator, user):
    tenant = EmulatorServer(
        "localhost",
        free_port(),
        hub_url=f"http://127.0.0.1:{hub_port}",
        client_id="tool-c",
        issuer=emulator.url,
    ).start()
    try:
        hub = hub_with(
            LTI13Authenticator={
                "platforms": [
                    registration(tenant, name="tenant-c", username_key="sub", username_prefix="c-")
                ]
            }
        )
        launch, url = tenant.start_launch(user=user)

        def both_audiences(form):
            nonce = json.loads(base64.urlsafe_b64decode(form["id_token"].split(".")[1] + "=="))[
                "nonce"
            ]
            claims = tenant.claims_for(launch, nonce)
            claims.update(aud=["jupyterhub-tool", "tool-c"], azp="tool-c")
            form["id_token"] = tenant.sign(claims)

        assert LaunchClient().launch(url, tamper=both_audiences).callback.status_code == 302
        assert hub.user(f"c-sub-{user}") is not None  # tenant C's key and namespace
        assert hub.user(f"{user}@example.edu") is None
    finally:
        tenant.stop()


def _accepted_launches(hub) -> float:
    text = requests.get(
        hub.url + "/hub/metrics", headers={"Authorization": f"token {hub.token}"}, timeout=10
    ).text
    match = re.search(
        r'^ltiauthenticator_launches_total\{outcome="accepted",reason=""\} (\S+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_a_cookie_less_launch_is_counted_once(hub, emulator, client, user):
    before = _accepted_launches(hub)
    done, _, _ = finish_without_cookies(hub, emulator, client, user)
    assert done.status_code == 302
    assert _accepted_launches(hub) == before + 1


# -- 19. unexpanded substitution variables never name anyone ----------------------------------


def test_an_unexpanded_variable_is_not_a_username(hub_with, emulator, user):
    hub = hub_with(LTI13Authenticator={"username_key": "custom_login_id"})
    names = []
    for who in ("a", "b"):
        _, url = emulator.start_launch(
            Launch(
                user=f"{who}{user}", claims={c.CUSTOM_CLAIM: {"login_id": "$Canvas.user.loginId"}}
            )
        )
        assert LaunchClient().launch(url).callback.status_code == 302
        names.append(f"sub-{who}{user}")
    assert all(hub.user(name) is not None for name in names)
    assert hub.user("$canvas.user.loginid") is None


# -- 8. a used token is remembered as long as it could pass (an hour for Canvas) ------------


def test_a_replay_after_ten_minutes_is_still_refused(hub_with, emulator, client, user):
    """max_age off and a one-hour exp, as Canvas sends: the record must outlive 600 s."""
    hub = hub_with(LTI13LaunchValidator={"max_age": 0})
    done, action, form = finish_without_cookies(hub, emulator, client, user, exp_seconds=3600)
    assert done.status_code == 302
    record = hub.authenticator.used_nonces
    clock = record.clock
    record.clock = lambda: clock() + 601  # eleven minutes later, for the replay record
    try:
        replay = requests.post(action, data=form, allow_redirects=False, timeout=10)
    finally:
        record.clock = clock
    assert replay.status_code == 400
    assert "already used" in html.unescape(replay.text)
