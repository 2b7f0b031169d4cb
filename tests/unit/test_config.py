"""Configuration: the contract's traits and defaults, help text, start-up checks."""

import asyncio

import pytest
from traitlets.config import Config

from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.validator import LTI13LaunchValidator

GOOD = {
    "issuer": "https://canvas.instructure.com",
    "client_id": ["125900000000000329"],
    "authorize_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "jwks_endpoint": "https://sso.canvaslms.com/api/lti/security/jwks",
}


def make(**traits):
    config = Config()
    for name, value in traits.items():
        config.LTI13Authenticator[name] = value
    return LTI13Authenticator(config=config)


def test_contract_defaults():
    auth = LTI13Authenticator()
    assert auth.login_service == "LTI 1.3"
    assert auth.issuer == "" and auth.client_id == set()
    assert auth.authorize_url == "" and auth.jwks_endpoint == ""
    assert auth.jwks_algorithms == ["RS256"]
    assert auth.username_key == "email"
    assert auth.uri_scheme == "auto"
    assert auth.tool_name == "JupyterHub"
    assert auth.tool_description == "Launch interactive Jupyter Notebooks with JupyterHub"
    validator = LTI13LaunchValidator()
    assert validator.time_leeway == 0 and validator.max_age == 600


@pytest.mark.parametrize("cls", [LTI13Authenticator, LTI13LaunchValidator, JWKSCache])
def test_every_config_trait_has_help(cls):
    own = set(cls.class_own_traits(config=True))
    if cls is LTI13Authenticator:
        own |= {"issuer", "client_id"}
    for name in own:
        assert cls.class_traits()[name].help.strip(), f"{cls.__name__}.{name} has no help"


def test_client_id_accepts_a_string_or_a_list():
    assert make(client_id="abc").client_id == {"abc"}
    assert make(client_id=["a", "b"]).client_id == {"a", "b"}


def test_uri_scheme_is_case_insensitive():
    assert make(uri_scheme="HTTPS").uri_scheme == "https"


def test_urls():
    auth = LTI13Authenticator()
    assert auth.login_url("/hub/") == "/hub/lti13/oauth_login"
    assert auth.callback_url("/hub/") == "/hub/lti13/oauth_callback"
    assert auth.config_json_url("/hub/") == "/hub/lti13/config"


def _admitted(config: Config) -> bool:
    """Whether JupyterHub's login pipeline admits a verified launch of ada@example.edu."""
    auth = LTI13Authenticator(config=config)
    claims = {"sub": "s-1", "email": "ada@example.edu"}
    return asyncio.run(auth.get_authenticated_user(None, claims)) is not None


def test_everyone_the_platform_vouches_for_may_log_in_unless_restricted():
    assert _admitted(Config())
    restricted = Config()
    restricted.Authenticator.allowed_users = {"someone@example.edu"}
    assert not _admitted(restricted)
    allowed = Config()
    allowed.Authenticator.allowed_users = {"ada@example.edu"}
    assert _admitted(allowed)
    blocked = Config()
    blocked.Authenticator.blocked_users = {"ada@example.edu"}
    assert not _admitted(blocked)


def test_a_complete_configuration_has_no_problems():
    assert make(**GOOD).configuration_problems() == []


def test_problems_name_the_trait_to_fix():
    problems = make(
        client_id=["x"], jwks_endpoint="http://lms.example.edu/jwks"
    ).configuration_problems()
    assert "LTI13Authenticator.issuer is not set" in problems
    assert "LTI13Authenticator.authorize_url is not set" in problems
    assert any("LTI13Authenticator.jwks_endpoint must be an https URL" in p for p in problems)
    assert (
        make(**{**GOOD, "jwks_endpoint": "http://localhost:8765/jwks"}).configuration_problems()
        == []
    )
    with pytest.raises(ValueError, match="issuer is not set"):
        LTI13Authenticator().check_configuration()


def test_platform_registration_problems():
    auth = make(
        platforms=[
            {**GOOD, "client_id": "125900000000000329", "username_prefix": "a-"},
            {"issuer": "https://moodle.example.edu", "username_prefix": "b-"},
        ],
        **GOOD,
    )
    problems = auth.configuration_problems()
    assert any("registered twice" in p for p in problems)
    assert "LTI13Authenticator.platforms[1].client_id is not set" in problems
    assert "LTI13Authenticator.platforms[1].jwks_endpoint is not set" in problems


def test_single_issuer_traits_and_platforms_form_registrations():
    auth = make(
        platforms=[
            {
                **GOOD,
                "issuer": "https://moodle.example.edu",
                "client_id": "m",
                "username_prefix": "moodle-",
            }
        ],
        **GOOD,
    )
    registry = auth.registry
    assert [r.issuer for r in registry.registrations] == [
        GOOD["issuer"],
        "https://moodle.example.edu",
    ]
    assert registry.find("https://moodle.example.edu", None).client_ids == {"m"}


def test_entry_point_name():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="jupyterhub.authenticators") if e.name == "lti13"]
    assert ep.load() is LTI13Authenticator


def test_public_modules_of_the_contract():
    """The established plugin's public names still exist and still behave as before."""
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from ltiauthenticator.lti13 import constants, error
    from ltiauthenticator.utils import (
        arguments_with_repeats,
        convert_request_to_dict,
        get_browser_protocol,
    )

    assert issubclass(error.InvalidAudienceError, error.ValidationError)
    statuses = {
        error.MissingRequiredArgumentError: 400,
        error.IncorrectValueError: 400,
        error.TokenError: 400,
        error.InvalidAudienceError: 401,
        error.LoginError: 400,
    }
    for cls, status in statuses.items():
        refusal = cls("Something is wrong.", hint="Do this.")
        assert isinstance(refusal, error.LTI13Error)
        assert refusal.status_code == status, cls
        assert refusal.message == "Something is wrong."
        assert "Do this." in refusal.user_message()
    assert constants.LTI13_LOGIN_REQUEST_ARGS == ["iss", "login_hint", "target_link_uri"]

    # the established helper: first values (the handlers use arguments_with_repeats)
    assert convert_request_to_dict({"iss": [b"https://lms"], "x": [b"1", b"2"]}) == {
        "iss": "https://lms",
        "x": "1",
    }
    assert convert_request_to_dict({"bad": [b"\xff"]}) == {"bad": "\ufffd"}
    assert arguments_with_repeats({"x": [b"1", b"2"]}) == {"x": ["1", "2"]}

    def request(protocol="http", **headers):
        start_line = RequestStartLine("GET", "/", "HTTP/1.1")
        made = HTTPServerRequest(
            start_line=start_line, headers=HTTPHeaders(Host="hub.example", **headers)
        )
        made.protocol = protocol
        return made

    assert get_browser_protocol(request()) == "http"
    assert get_browser_protocol(request("https")) == "https"
    assert get_browser_protocol(request(**{"X-Forwarded-Proto": "https, http"})) == "https"
    assert get_browser_protocol(request(**{"X-Scheme": "HTTPS"})) == "https"
    # a header that is not a scheme is ignored, not trusted
    assert get_browser_protocol(request(**{"X-Forwarded-Proto": "gopher"})) == "http"


def test_deployment_allowlist_for_the_single_issuer_traits():
    auth = make(deployment_ids="dep-1", **GOOD)
    (registration,) = auth.registry.registrations
    assert registration.deployment_ids == {"dep-1"}
