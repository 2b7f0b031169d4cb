"""Every refused launch: the contract's 4xx, a reason, no user created, never a 500.

Includes the 1EdTech tool-certification known-bad payloads.
"""

from __future__ import annotations

import html

import pytest

from ltiauthenticator.lti13.handlers import NONCE_STATE_COOKIE_NAME, STATE_COOKIE_NAME
from ltiauthenticator.platform_emulator import Launch

from ..support.bad_launches import BAD_LAUNCHES, THROUGH_HTTP
from ..support.client import parse_form


def assert_refused(response, status, message, hub, username=None):
    assert response.status_code == status, (response.status_code, response.text[-1500:])
    assert message in html.unescape(response.text)
    assert "jupyterhub-hub-login" not in response.cookies
    if username is not None:
        assert hub.user(username) is None


# -- login initiation -----------------------------------------------------------------------


def initiate_login(hub, emulator, client, **overrides):
    """A login initiation for a fresh launch, with some parameters changed (None: removed)."""
    launch, _ = emulator.start_launch()
    params = dict(emulator.login_parameters(launch), **overrides)
    params = {name: value for name, value in params.items() if value is not None}
    return client.session.get(
        hub.url + "/hub/lti13/oauth_login", params=params, allow_redirects=False, timeout=10
    )


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_login_initiation_without_required_argument_is_400(hub, emulator, client, missing, how):
    value = None if how == "absent" else ""
    response = initiate_login(hub, emulator, client, **{missing: value})
    assert_refused(response, 400, f"Missing required argument {missing}", hub)


def test_login_page_without_any_launch_explains_where_to_start(hub, client):
    response = client.session.get(hub.url + "/hub/lti13/oauth_login", timeout=10)
    assert_refused(response, 400, "Open this tool from your course", hub)


def test_login_initiation_from_unknown_issuer_is_refused_before_redirecting(hub, emulator, client):
    response = initiate_login(hub, emulator, client, iss="https://lms.unknown.example")
    assert_refused(response, 400, "not registered with the platform", hub)


def test_login_initiation_with_unknown_client_id_is_refused(hub, emulator, client):
    response = initiate_login(hub, emulator, client, client_id="someone-else")
    assert_refused(response, 400, "client_id this hub is not configured for", hub)


def test_repeated_login_argument_is_refused(hub, emulator, client):
    launch, url = emulator.start_launch()
    response = client.session.get(url + "&iss=https://other.example", allow_redirects=False)
    assert_refused(response, 400, "given more than once", hub)


def test_oversize_login_argument_is_413(hub, emulator, client):
    response = initiate_login(hub, emulator, client, login_hint="x" * 9000)
    assert_refused(response, 413, "longer than", hub)


# -- the callback's request shape -------------------------------------------------------------


def test_callback_get_is_405(hub, client):
    response = client.session.get(hub.url + "/hub/lti13/oauth_callback", timeout=10)
    assert_refused(response, 405, "GET method is not allowed for launch requests", hub)


@pytest.mark.parametrize("missing", ["id_token", "state"])
def test_callback_without_id_token_or_state_is_400(hub, emulator, client, user, missing):
    _, url = emulator.start_launch(user=user)
    result = client.launch(url, tamper=lambda form: form.pop(missing))
    message = (
        "OAuth state missing from URL"
        if missing == "state"
        else "Missing required argument id_token"
    )
    assert_refused(result.callback, 400, message, hub, f"{user}@example.edu")


@pytest.mark.parametrize(
    ("cookie", "message"),
    [
        (STATE_COOKIE_NAME, "OAuth state missing from cookies"),
        (NONCE_STATE_COOKIE_NAME, "Missing nonce state cookie"),
    ],
)
def test_missing_launch_cookie_is_400_with_advice(hub, emulator, client, user, cookie, message):
    _, url = emulator.start_launch(user=user)

    def drop_cookie(form):
        # each login has its own cookies: "<name>-<tag of this login>"
        (name,) = [c.name for c in client.session.cookies if c.name.startswith(cookie + "-")]
        client.session.cookies.clear(domain="127.0.0.1", path="/hub/lti13/", name=name)

    result = client.launch(url, tamper=drop_cookie)
    assert_refused(result.callback, 400, message, hub, f"{user}@example.edu")
    assert "new window" in result.callback.text


def test_state_mismatch_is_400(hub, emulator, client, user):
    _, url = emulator.start_launch(user=user)
    result = client.launch(url, tamper=lambda form: form.update(state=form["state"][:-2] + "xx"))
    assert_refused(result.callback, 400, "OAuth state mismatch", hub, f"{user}@example.edu")


def test_state_from_another_browser_is_400(hub, emulator, client, user):
    """Login CSRF: the attacker's form posted into the victim's browser."""
    from ..support.client import LaunchClient

    attacker = LaunchClient()
    _, url = emulator.start_launch(user=user)
    attacker_login = attacker.login_initiation(url)
    page = attacker.authorize(attacker_login)
    action, form = parse_form(page.text, page.url)
    victim_login = client.login_initiation(emulator.start_launch()[1])
    assert victim_login.status_code == 302
    response = client.post_form(action, form)
    assert_refused(response, 400, "OAuth state mismatch", hub, f"{user}@example.edu")


def test_nonce_mismatch_is_400(hub, emulator, client, user):
    launch, url = emulator.start_launch(user=user)

    def swap_token(form):
        form["id_token"] = emulator.sign(emulator.claims_for(launch, "0" * 64))

    result = client.launch(url, tamper=swap_token)
    assert_refused(result.callback, 400, "OAuth nonce mismatch", hub, f"{user}@example.edu")


# -- the 1EdTech certification's known-bad id_tokens ------------------------------------------
# Every case runs through the validator in tests/unit/test_claims_matrix.py; here one per
# layer of checks goes through the hub, to see each error become its HTTP answer.


@pytest.mark.parametrize("case", THROUGH_HTTP)
def test_known_bad_launch_is_refused_without_creating_a_user(hub, emulator, client, user, case):
    fields, status, message = BAD_LAUNCHES[case]
    before = hub.user_count()
    _, url = emulator.start_launch(Launch(user=user, **fields))
    result = client.launch(url)
    assert_refused(result.callback, status, message, hub, f"{user}@example.edu")
    assert hub.user_count() == before


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b", "a.b.c.d", "....", "eyJhbGciOiJSUzI1NiJ9..", "\u00e9\u00e9.\u00e9.x"],
)
def test_id_token_that_is_not_a_jwt_is_400(hub, emulator, client, user, token):
    _, url = emulator.start_launch(user=user)
    result = client.launch(url, tamper=lambda form: form.update(id_token=token))
    assert result.callback.status_code == 400, result.callback.text[-800:]
    assert hub.user(f"{user}@example.edu") is None


def test_token_signed_with_an_unpublished_key_is_400(hub, emulator, client, user):
    from cryptography.hazmat.primitives.asymmetric import rsa

    launch, url = emulator.start_launch(user=user)
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def resign(form):
        claims = emulator.claims_for(launch, _nonce_of(form, emulator))
        form["id_token"] = emulator.sign(claims, key=rogue)

    result = client.launch(url, tamper=resign)
    assert_refused(result.callback, 400, "signature does not verify", hub, f"{user}@example.edu")


def _nonce_of(form, emulator):
    import jwt

    return jwt.decode(form["id_token"], options={"verify_signature": False})["nonce"]


# -- replay ------------------------------------------------------------------------------------


def test_a_launch_form_is_accepted_once_even_with_the_cookies(hub, emulator, client, user):
    _, url = emulator.start_launch(user=user)
    login = client.login_initiation(url)
    saved_cookies = client.session.cookies.copy()
    page = client.authorize(login)
    action, form = parse_form(page.text, page.url)
    assert client.post_form(action, form).status_code == 302

    from ..support.client import LaunchClient

    replayer = LaunchClient()
    replayer.session.cookies.update(saved_cookies)
    response = replayer.post_form(action, form)
    assert_refused(response, 400, "already used", hub)


# -- access rules ---------------------------------------------------------------------------


def test_allowed_users_still_restricts_who_logs_in(hub_with, emulator, client, user):
    hub = hub_with(Authenticator={"allowed_users": {"someone@example.edu"}})
    _, url = emulator.start_launch(user=user)
    result = client.launch(url)
    assert_refused(result.callback, 403, "User missing or null", hub, f"{user}@example.edu")


def test_blocked_users_are_refused(hub_with, emulator, client):
    hub = hub_with(Authenticator={"blocked_users": {"blocked@example.edu"}})
    _, url = emulator.start_launch(user="blocked")
    result = client.launch(url)
    assert_refused(result.callback, 403, "User missing or null", hub, "blocked@example.edu")


# -- the largest parameters accepted ----------------------------------------------------------

PROXY_HEADER_LIMIT = 16 * 1024  # configurable-http-proxy (node's default header limit)
BROWSER_COOKIE_LIMIT = 4096  # name, value and attributes, per cookie


@pytest.mark.parametrize("name", ["login_hint", "target_link_uri", "lti_message_hint"])
def test_the_longest_accepted_launch_parameter_still_gets_an_answer_from_the_hub(
    hub, emulator, client, name
):
    """Each login parameter may be as long as max_argument_length; the answer must then
    still pass the proxy and fit a browser's cookie jar, or be the hub's own 4xx.

    Fails today (found by the HTTP property test): the state carries the launch's
    parameters, so the state cookie and the redirect URL each hold the long value again;
    the proxy answers 503 (header overflow) and browsers would drop the cookie.
    """
    limit = hub.authenticator.validator.max_argument_length
    launch, _ = emulator.start_launch()
    params = dict(emulator.login_parameters(launch))
    params[name] = ("https://hub.example/" if name == "target_link_uri" else "") + "a" * (
        limit - 20
    )
    response = client.session.post(
        hub.url + "/hub/lti13/oauth_login", data=params, allow_redirects=False, timeout=10
    )
    assert response.status_code in (302, 400, 413), (response.status_code, response.text[-600:])
    if response.status_code == 302:
        header_bytes = sum(len(k) + len(v) + 4 for k, v in response.raw.headers.items())
        assert header_bytes < PROXY_HEADER_LIMIT
        for cookie in response.raw.headers.getlist("Set-Cookie"):
            assert len(cookie) <= BROWSER_COOKIE_LIMIT, cookie[:80]
