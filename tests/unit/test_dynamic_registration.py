"""The dynamic registration protocol's pure parts: reading the platform, writing the tool."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from ltiauthenticator.lti13 import _dynamic_registration as dr
from ltiauthenticator.lti13.error import DynamicRegistrationError

URL = "https://moodle.example.edu/mod/lti/openid-configuration.php"


def moodle(**changes: Any) -> Dict[str, Any]:
    config = {
        "issuer": "https://moodle.example.edu",
        "authorization_endpoint": "https://moodle.example.edu/mod/lti/auth.php",
        "token_endpoint": "https://moodle.example.edu/mod/lti/token.php",
        "jwks_uri": "https://moodle.example.edu/mod/lti/certs.php",
        "registration_endpoint": "https://moodle.example.edu/mod/lti/openid-registration.php",
        dr.PLATFORM_CONFIGURATION: {
            "product_family_code": "moodle",
            "version": "4.5",
            "messages_supported": [{"type": "LtiResourceLinkRequest"}],
        },
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


TOOL = dr.ToolDescription(
    client_name="JupyterHub",
    description="Notebooks",
    login_url="https://hub.example.edu/hub/lti13/oauth_login",
    redirect_url="https://hub.example.edu/hub/lti13/oauth_callback",
    jwks_url="https://hub.example.edu/hub/lti13/jwks",
    target_link_uri="https://hub.example.edu/hub/",
    claims=["iss", "sub", "email"],
    deep_linking=True,
)


def test_a_moodle_configuration_is_read():
    platform = dr.read_platform_configuration(moodle(), URL)
    assert platform.issuer == "https://moodle.example.edu"
    assert platform.product_family == "moodle"
    assert platform.token_endpoint.endswith("/token.php")
    assert not platform.supports_message("LtiDeepLinkingRequest")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"issuer": "https://elsewhere.example.edu"}, "issuer is not on the host"),
        ({"issuer": None}, "no usable issuer"),
        ({"issuer": "http://moodle.example.edu"}, "no usable issuer"),
        ({"jwks_uri": None}, "has no jwks_uri"),
        ({"authorization_endpoint": "http://moodle.example.edu/auth"}, "must be an https URL"),
        (
            {"registration_endpoint": "https://evil.example.net/register"},
            "registration endpoint is on another host",
        ),
    ],
)
def test_configurations_the_hub_refuses(changes, message):
    with pytest.raises(DynamicRegistrationError, match=message):
        dr.read_platform_configuration(moodle(**changes), URL)


def test_a_configuration_that_is_not_an_object_is_refused():
    with pytest.raises(DynamicRegistrationError, match="not a JSON object"):
        dr.read_platform_configuration(["issuer"], URL)


def test_deep_linking_is_offered_only_to_platforms_that_support_it():
    silent = dr.read_platform_configuration(moodle(**{dr.PLATFORM_CONFIGURATION: None}), URL)
    limited = dr.read_platform_configuration(moodle(), URL)
    messages = dr.registration_request(TOOL, silent)[dr.TOOL_CONFIGURATION]["messages"]
    assert [m["type"] for m in messages] == ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
    messages = dr.registration_request(TOOL, limited)[dr.TOOL_CONFIGURATION]["messages"]
    assert [m["type"] for m in messages] == ["LtiResourceLinkRequest"]


def test_canvas_is_told_the_privacy_level_the_claims_need():
    canvas = moodle(**{dr.PLATFORM_CONFIGURATION: {"product_family_code": "canvas"}})
    request = dr.registration_request(TOOL, dr.read_platform_configuration(canvas, URL))
    assert request[dr.TOOL_CONFIGURATION][dr.CANVAS_PRIVACY_LEVEL] == "email_only"
    assert dr.canvas_privacy_level(["iss", "sub"]) == "anonymous"
    assert dr.canvas_privacy_level(["iss", "sub", "given_name"]) == "name_only"
    assert dr.canvas_privacy_level(["iss", "sub", "email", "name"]) == "public"
    other = dr.registration_request(TOOL, dr.read_platform_configuration(moodle(), URL))
    assert dr.CANVAS_PRIVACY_LEVEL not in other[dr.TOOL_CONFIGURATION]


@pytest.mark.parametrize(
    "username_key, claims",
    [
        ("email", ["iss", "sub", "email"]),
        ("given_name", ["iss", "sub", "given_name"]),
        ("custom_uname", ["iss", "sub"]),
        ("lis.person_sourcedid", ["iss", "sub"]),
        (lambda claims: claims["sub"], ["iss", "sub"]),
    ],
)
def test_only_the_username_claim_is_asked_for(username_key, claims):
    assert dr.requested_claims(username_key) == claims


@pytest.mark.parametrize(
    "answer, client_id, deployments",
    [
        ({"client_id": "abc"}, "abc", ()),
        ({"client_id": 42, dr.TOOL_CONFIGURATION: {"deployment_id": 7}}, "42", ("7",)),
        ({"client_id": " x ", dr.TOOL_CONFIGURATION: {"deployment_id": "d1"}}, "x", ("d1",)),
    ],
)
def test_the_platforms_answer_is_read(answer, client_id, deployments):
    registered = dr.read_registration_response(answer)
    assert (registered.client_id, registered.deployment_ids) == (client_id, deployments)


@pytest.mark.parametrize("answer", [{}, {"client_id": ""}, {"client_id": True}, "abc", None])
def test_an_answer_without_a_client_id_is_refused(answer):
    with pytest.raises(DynamicRegistrationError):
        dr.read_registration_response(answer)


@pytest.mark.parametrize(
    "url",
    ["", "http://lms.example.edu/x", "https://u:p@lms.example.edu/x", "javascript:alert(1)"],
)
def test_configuration_urls_refused_before_any_request(url):
    with pytest.raises(DynamicRegistrationError):
        dr.check_configuration_url(url)


@pytest.mark.parametrize(
    "url", ["https://lms.example.edu/x", "http://127.0.0.1:8765/x", "http://localhost/x"]
)
def test_configuration_urls_accepted(url):
    assert dr.check_configuration_url(url) == url
