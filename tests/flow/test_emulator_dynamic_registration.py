"""The emulator's LTI Dynamic Registration, over real HTTP, played as Moodle does it.

Each test has a platform of its own: a registration replaces the tool it launches into.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, Iterator, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from ltiauthenticator.lti13 import constants as c

from ..support.client import parse_form
from ..support.emulator import EmulatorServer
from ..support.hub import free_port

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL = "https://hub.example.edu"

#: A registration as a tool sends it (LTI-DR 1.0 §3.5.2), valid in every respect.
REGISTRATION: Dict[str, Any] = {
    "application_type": "web",
    "response_types": ["id_token"],
    "grant_types": ["implicit", "client_credentials"],
    "initiate_login_uri": f"{TOOL}/hub/lti13/oauth_login",
    "redirect_uris": [f"{TOOL}/hub/lti13/oauth_callback"],
    "client_name": "JupyterHub",
    "jwks_uri": f"{TOOL}/hub/lti13/jwks",
    "token_endpoint_auth_method": "private_key_jwt",
    "scope": f"{AGS}score {NRPS_SCOPE}",
    TOOL_CONFIGURATION: {
        "domain": "hub.example.edu",
        "target_link_uri": f"{TOOL}/hub/",
        "claims": ["iss", "sub", "email"],
        "messages": [
            {"type": "LtiResourceLinkRequest"},
            {"type": "LtiDeepLinkingRequest", "target_link_uri": f"{TOOL}/hub/lti13/deeplink"},
        ],
    },
}

DELETE = object()


@pytest.fixture
def lms() -> Iterator[EmulatorServer]:
    """A platform of this test's own, launching into a tool that is not running."""
    server = EmulatorServer("127.0.0.1", free_port(), hub_url="http://hub.invalid")
    server.start()
    yield server
    server.stop()


def registration(**changes: Any) -> Dict[str, Any]:
    """:data:`REGISTRATION` with top-level ``changes`` (``DELETE`` removes a field)."""
    body = copy.deepcopy(REGISTRATION)
    for name, value in changes.items():
        if value is DELETE:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def tool_configuration(**changes: Any) -> Dict[str, Any]:
    """:data:`REGISTRATION` with ``changes`` inside its tool configuration object."""
    config = copy.deepcopy(REGISTRATION[TOOL_CONFIGURATION])
    for name, value in changes.items():
        if value is DELETE:
            config.pop(name, None)
        else:
            config[name] = value
    return registration(**{TOOL_CONFIGURATION: config})


def bearer(token: Optional[str]) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def get_configuration(lms: EmulatorServer, token: Optional[str] = None) -> requests.Response:
    return requests.get(lms.url + "/openid-configuration", headers=bearer(token), timeout=10)


def post_registration(
    lms: EmulatorServer, body: Any, headers: Optional[Dict[str, str]] = None
) -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(
        lms.url + "/dynamic_registration/register",
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=10,
    )


def register(lms: EmulatorServer, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Register ``body`` (default :data:`REGISTRATION`) with a fresh token; the answer."""
    token = lms.platform.mint_registration_token()
    response = post_registration(lms, body or registration(), bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


# -- the OpenID configuration ------------------------------------------------------------------


def test_configuration_describes_the_platform_as_moodle_does(lms):
    response = get_configuration(lms)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    config = response.json()
    assert config["issuer"] == lms.platform.issuer == lms.url
    for name, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("registration_endpoint", "/dynamic_registration/register"),
    ]:
        assert config[name] == lms.url + path
    assert set(config["scopes_supported"]) == {
        "openid",
        AGS + "lineitem",
        AGS + "lineitem.readonly",
        AGS + "result.readonly",
        AGS + "score",
        NRPS_SCOPE,
    }
    assert config["response_types_supported"] == ["id_token"]
    assert config["subject_types_supported"] == ["public", "pairwise"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"sub", "iss", "name", "given_name", "family_name", "email"} <= set(
        config["claims_supported"]
    )
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS256"]
    platform = config[PLATFORM_CONFIGURATION]
    assert platform["product_family_code"] == "moodle" and platform["version"]
    messages = {m["type"]: m for m in platform["messages_supported"]}
    assert set(messages) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert messages["LtiDeepLinkingRequest"]["placements"]
    assert platform["variables"] and all(isinstance(v, str) for v in platform["variables"])
    assert lms.platform.configuration_requests == [{"bearer": False}]


def test_the_configured_endpoints_are_served(lms):
    config = get_configuration(lms).json()
    keys = requests.get(config["jwks_uri"], timeout=10)
    assert keys.status_code == 200 and keys.json()["keys"]
    # the registration endpoint is there, and guarded
    refused = requests.post(config["registration_endpoint"], json=registration(), timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


def test_moodle_like_configuration_accepts_a_valid_token_but_no_bad_one(lms):
    token = lms.platform.mint_registration_token()
    assert get_configuration(lms, token).status_code == 200
    for bad in ("made-up", lms.platform.mint_registration_token(ttl=-1)):
        refused = get_configuration(lms, bad)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert lms.platform.configuration_requests == [{"bearer": True}] * 3


def test_canvas_like_configuration_needs_the_token(lms):
    lms.platform.require_token_for_configuration = True
    refused = get_configuration(lms)
    assert refused.status_code == 401
    assert "Authorization: Bearer" in refused.json()["error_description"]
    assert get_configuration(lms, lms.platform.mint_registration_token()).status_code == 200
    assert lms.platform.configuration_requests == [{"bearer": False}, {"bearer": True}]


# -- registering -------------------------------------------------------------------------------


def test_registration_mints_a_client_and_a_deployment_and_becomes_the_tool(lms):
    before = lms.platform.tool
    sent = registration()
    answer = register(lms, sent)

    client_id = answer.pop("client_id")
    deployment_id = answer[TOOL_CONFIGURATION].pop("deployment_id")
    assert answer == sent  # the rest echoes what the tool sent
    assert client_id and client_id != before.client_id
    assert deployment_id and deployment_id != before.deployment_id
    tool = lms.platform.tool
    assert (tool.client_id, tool.deployment_id) == (client_id, deployment_id)
    assert tool.login_url == sent["initiate_login_uri"]
    assert tool.redirect_uris == sent["redirect_uris"]
    assert tool.target_link_uri == sent[TOOL_CONFIGURATION]["target_link_uri"]
    assert tool.keys_url == sent["jwks_uri"]
    assert lms.platform.registered_tools == [tool]
    assert lms.platform.registration_requests == [sent]
    stats = requests.get(lms.url + "/_emulator/stats", timeout=10).json()
    assert stats["registrations"] == 1


def test_every_registration_is_kept_and_the_newest_is_launched(lms):
    first = register(lms)
    second = register(lms, registration(client_name="Another hub"))
    assert first["client_id"] != second["client_id"]
    deployments = [a[TOOL_CONFIGURATION]["deployment_id"] for a in (first, second)]
    assert deployments[0] != deployments[1]
    tools = lms.platform.registered_tools
    assert [t.client_id for t in tools] == [first["client_id"], second["client_id"]]
    assert lms.platform.tool is tools[-1]
    page = requests.get(lms.url + "/", timeout=10).text
    assert "Tools registered by URL" in page and "Another hub" in page
    assert first["client_id"] in page and second["client_id"] in page


def start_launch(lms: EmulatorServer) -> Tuple[str, Dict[str, str]]:
    """Press the course page's student launch button: the login URL and its parameters."""
    response = requests.get(
        lms.url + "/launch?user=student1&role=student", allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", params


def authorize(lms: EmulatorServer, login: Dict[str, str], redirect_uri: str) -> requests.Response:
    """The tool's authentication request for the launch that sent ``login``."""
    return requests.get(
        lms.url + "/authorize",
        params={
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": login["client_id"],
            "redirect_uri": redirect_uri,
            "login_hint": login["login_hint"],
            "lti_message_hint": login["lti_message_hint"],
            "nonce": "nonce-1",
            "state": "state-1",
        },
        timeout=10,
    )


def test_a_launch_after_registration_uses_the_new_client_and_deployment(lms):
    answer = register(lms)
    client_id = answer["client_id"]
    deployment_id = answer[TOOL_CONFIGURATION]["deployment_id"]

    login_url, login = start_launch(lms)
    assert login_url == REGISTRATION["initiate_login_uri"]
    assert login["client_id"] == client_id
    assert login["lti_deployment_id"] == deployment_id
    assert login["target_link_uri"] == REGISTRATION[TOOL_CONFIGURATION]["target_link_uri"]

    # only the registered redirect URI is accepted, and the id_token is for the new client
    elsewhere = authorize(lms, login, "https://old-hub.example.edu/hub/lti13/oauth_callback")
    assert elsewhere.status_code == 400
    response = authorize(lms, login, REGISTRATION["redirect_uris"][0])
    assert response.status_code == 200, response.text
    action, fields = parse_form(response.text, lms.url)
    assert action == REGISTRATION["redirect_uris"][0]
    keys = jwt.PyJWKClient(lms.url + "/jwks").get_signing_key_from_jwt(fields["id_token"])
    claims = jwt.decode(fields["id_token"], keys.key, algorithms=["RS256"], audience=client_id)
    assert claims[c.DEPLOYMENT_ID_CLAIM] == deployment_id
    assert claims["iss"] == lms.url


# -- the registration token ----------------------------------------------------------------------


def test_a_registration_token_registers_one_tool_only(lms):
    token = lms.platform.mint_registration_token()
    assert post_registration(lms, registration(), bearer(token)).status_code == 200
    again = post_registration(lms, registration(client_name="Sneaky"), bearer(token))
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_token"
    assert "already used" in again.json()["error_description"]
    assert [t.client_name for t in lms.platform.registered_tools] == ["JupyterHub"]


@pytest.mark.parametrize(
    "headers, words",
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer "}, "Authorization: Bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer made-up-token"}, "did not issue"),
        ("expired", "expired"),
    ],
    ids=["missing", "empty", "not-bearer", "unknown", "expired"],
)
def test_registration_without_a_valid_token_is_refused(lms, headers, words):
    if headers == "expired":
        headers = bearer(lms.platform.mint_registration_token(ttl=-1))
    before = lms.platform.tool
    response = post_registration(lms, registration(), headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"] == "invalid_token"
    assert words in response.json()["error_description"]
    assert lms.platform.tool is before and not lms.platform.registered_tools


# -- the registration body ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param("not json", "JSON object", id="not-json"),
        pytest.param([REGISTRATION], "JSON object", id="json-list"),
        pytest.param(
            registration(application_type="native"), "application_type", id="application-type"
        ),
        pytest.param(
            registration(response_types=["code"]), "response_types", id="response-types-wrong"
        ),
        pytest.param(
            registration(response_types=DELETE), "response_types", id="response-types-missing"
        ),
        pytest.param(
            registration(grant_types=["implicit"]),
            "grant_types",
            id="grant-types-no-client-credentials",
        ),
        pytest.param(
            registration(grant_types=["client_credentials"]),
            "grant_types",
            id="grant-types-no-implicit",
        ),
        pytest.param(
            registration(initiate_login_uri="/hub/lti13/oauth_login"),
            "initiate_login_uri",
            id="initiate-login-uri-relative",
        ),
        pytest.param(registration(jwks_uri=DELETE), "jwks_uri", id="jwks-uri-missing"),
        pytest.param(
            registration(jwks_uri="ftp://hub.example.edu/keys"), "jwks_uri", id="jwks-uri-ftp"
        ),
        pytest.param(registration(redirect_uris=[]), "redirect_uris", id="redirect-uris-empty"),
        pytest.param(
            registration(redirect_uris=f"{TOOL}/hub/lti13/oauth_callback"),
            "redirect_uris",
            id="redirect-uris-string",
        ),
        pytest.param(
            registration(redirect_uris=["oauth_callback"]),
            "redirect_uris",
            id="redirect-uris-relative",
        ),
        pytest.param(
            registration(token_endpoint_auth_method="client_secret_basic"),
            "token_endpoint_auth",
            id="token-endpoint-auth-method",
        ),
        pytest.param(registration(client_name=DELETE), "client_name", id="client-name-missing"),
        pytest.param(registration(client_name="  "), "client_name", id="client-name-blank"),
        pytest.param(
            registration(**{TOOL_CONFIGURATION: DELETE}),
            TOOL_CONFIGURATION,
            id="tool-configuration-missing",
        ),
        pytest.param(
            registration(**{TOOL_CONFIGURATION: ["messages"]}),
            TOOL_CONFIGURATION,
            id="tool-configuration-list",
        ),
        pytest.param(tool_configuration(domain=DELETE), "domain", id="domain-missing"),
        pytest.param(
            tool_configuration(target_link_uri=DELETE),
            "target_link_uri",
            id="target-link-uri-missing",
        ),
        pytest.param(
            tool_configuration(target_link_uri="hub/"),
            "target_link_uri",
            id="target-link-uri-relative",
        ),
        pytest.param(tool_configuration(messages=DELETE), "messages", id="messages-missing"),
        pytest.param(tool_configuration(messages=[]), "messages", id="messages-empty"),
        pytest.param(
            tool_configuration(messages=[{"label": "no type"}]),
            "messages[0]",
            id="message-without-type",
        ),
        pytest.param(
            tool_configuration(messages=[{"type": "LtiResourceLinkRequest"}, "x"]),
            "messages[1]",
            id="message-not-object",
        ),
    ],
)
def test_each_registration_rule_refuses_naming_the_field(lms, body, field):
    token = lms.platform.mint_registration_token()
    response = post_registration(lms, body, bearer(token))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"
    assert field in response.json()["error_description"]
    assert not lms.platform.registered_tools


def test_a_refused_body_leaves_the_token_for_the_corrected_one(lms):
    token = lms.platform.mint_registration_token()
    wrong = registration(application_type="native")
    assert post_registration(lms, wrong, bearer(token)).status_code == 400
    assert post_registration(lms, registration(), bearer(token)).status_code == 200
    assert lms.platform.registration_requests == [wrong, registration()]


# -- the administrator's page (its script is exercised in tests/browser) -----------------------


def page_config(page: str) -> Dict[str, Any]:
    found = re.search(r'id="dr-config">(.*?)</script>', page, re.S)
    assert found, page
    return json.loads(found.group(1))


def test_the_course_page_links_to_the_registration_form(lms):
    course = requests.get(lms.url + "/", timeout=10).text
    assert "href='dynamic_registration'" in course and "Add a tool by URL" in course
    form = requests.get(lms.url + "/dynamic_registration", timeout=10)
    assert form.status_code == 200
    assert 'name="url" id="tool-url"' in form.text and 'id="register"' in form.text
    assert not lms.platform.registration_tokens  # showing the form mints nothing


@pytest.mark.parametrize(
    "url, window, mode",
    [
        (f"{TOOL}/hub/lti13/register", "", "iframe"),
        (f"{TOOL}/hub/lti13/register?code=a%26b#top", "1", "window"),
    ],
)
def test_the_page_opens_the_tool_with_a_fresh_token(lms, url, window, mode):
    response = requests.get(
        lms.url + "/dynamic_registration", params={"url": url, "window": window}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'id="dr-status">waiting<' in response.text
    config = page_config(response.text)
    assert config["mode"] == mode
    opened = urlsplit(config["tool_url"])
    given = urlsplit(url)
    assert opened._replace(query="") == given._replace(query="")
    query = parse_qs(opened.query)
    assert query["openid_configuration"] == [lms.url + "/openid-configuration"]
    token = query["registration_token"][0]
    assert lms.platform.registration_token_problem(token) == ""
    if given.query:  # the tool's own query is kept, untouched
        assert opened.query.startswith(given.query + "&") and query["code"] == ["a&b"]
    # the tool can use what it was given
    assert get_configuration(lms, token).status_code == 200


@pytest.mark.parametrize(
    "url", ["hub.example.edu/register", "javascript:alert(1)", "'\"><script>alert(1)</script>"]
)
def test_the_page_refuses_what_is_not_a_web_address(lms, url):
    response = requests.get(lms.url + "/dynamic_registration", params={"url": url}, timeout=10)
    assert response.status_code == 400
    assert "absolute http or https URL" in response.text
    assert "<script>alert" not in response.text and 'id="dr-config"' not in response.text
    assert not lms.platform.registration_tokens
