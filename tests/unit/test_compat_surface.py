"""The established plugin's API surface (../shared/COMPAT.md), as deployments use it.

Shapes matter: a subclass overriding a synchronous method with a synchronous method, or
a test suite calling one without ``await``, breaks silently if it became a coroutine.
"""

from __future__ import annotations

import inspect

import pytest
from tornado.httputil import HTTPHeaders
from tornado.web import HTTPError
from traitlets.config.loader import PyFileConfigLoader

from ltiauthenticator.lti13 import constants, error, handlers
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.handlers import (
    LTI13CallbackHandler,
    LTI13ConfigHandler,
    LTI13LoginInitHandler,
    _LTI13Handler,
)
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict, get_browser_protocol

ASYNC = [
    (LTI13Authenticator, "authenticate"),
    (LTI13CallbackHandler, "get"),
    (LTI13CallbackHandler, "post"),
    (LTI13CallbackHandler, "redirect_to_next_url"),
]
SYNC = (
    [
        (LTI13LoginInitHandler, name)
        for name in (
            "get",
            "post",
            "authorize_redirect",
            "get_state",
            "get_redirect_uri",
            "set_state_cookie",
            "set_nonce_state_cookie",
        )
    ]
    + [
        (LTI13CallbackHandler, name)
        for name in (
            "decode_and_validate_launch_request",
            "check_state",
            "check_nonce",
            "get_next_url",
            "_get_state_from_url",
            "_get_nonce_state_cookie",
        )
    ]
    + [
        (LTI13LaunchValidator, name)
        for name in (
            "validate_login_request",
            "validate_auth_response",
            "verify_and_decode_jwt",
            "validate_id_token",
            "validate_azp_claim",
        )
    ]
    + [(LTI13Authenticator, n) for n in ("get_uri_scheme", "get_handlers", "get_username")]
)


@pytest.mark.parametrize(("cls", "name"), ASYNC, ids=[f"{c.__name__}.{n}" for c, n in ASYNC])
def test_coroutines_stay_coroutines(cls, name):
    assert inspect.iscoroutinefunction(getattr(cls, name))


@pytest.mark.parametrize(("cls", "name"), SYNC, ids=[f"{c.__name__}.{n}" for c, n in SYNC])
def test_synchronous_methods_stay_synchronous(cls, name):
    assert not inspect.iscoroutinefunction(getattr(cls, name))


def test_a_config_can_import_the_established_constants(tmp_path):
    config_file = tmp_path / "jupyterhub_config.py"
    config_file.write_text(  # what jupyterhub_config.py files out there do
        "from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM\n"
        "c.LTI13Authenticator.tool_description = LTI13_CUSTOM_CLAIM\n"
    )
    config = PyFileConfigLoader(config_file.name, str(tmp_path)).load_config()
    auth = LTI13Authenticator(config=config)
    assert auth.tool_description == "https://purl.imsglobal.org/spec/lti/claim/custom"
    assert constants.LTI13_INIT_LOGIN_REQUEST_ARGS == ["iss", "login_hint", "target_link_uri"]
    assert constants.LTI13_AUTH_RESPONSE_ARGS == ["id_token", "state"]
    assert constants.LTI13_RESOURCE_LINKS == {"id": "", "description": "", "title": ""}
    assert constants.DEFAULT_ROLE_NAMES_FOR_STUDENT == ["student", "learner"]
    assert len(constants.LTI13_ROLE_VOCABULARIES["CONTEXT_ROLES"]["CONTEXT_SUB_ROLES"]) == 51
    assert (
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor#TeachingAssistant"
        in constants.LTI13_ROLES["INSTRUCTOR_ROLES"]
    )


@pytest.mark.parametrize(
    "cls",
    [
        error.ValidationError,
        error.MissingRequiredArgumentError,
        error.IncorrectValueError,
        error.TokenError,
        error.InvalidAudienceError,
        error.LoginError,
    ],
)
def test_errors_are_built_from_one_message(cls):
    exc = cls("the message")
    assert str(exc) == "the message"
    if cls is not error.LoginError:
        assert isinstance(exc, error.ValidationError)


@pytest.mark.parametrize(
    ("domain_error", "expected"),
    [
        (
            error.InvalidAudienceError("azp claim does not match client_id."),
            "HTTP 401: Unauthorized (azp claim does not match client_id.)",
        ),
        (
            error.StateError("OAuth state mismatch", hint="advice"),
            "HTTP 400: Bad Request (OAuth state mismatch)",
        ),
        (
            error.MethodNotAllowedError("GET method is not allowed for launch requests"),
            "HTTP 405: Method Not Allowed (GET method is not allowed for launch requests)",
        ),
        (
            error.LaunchForbiddenError("User missing or null", hint="ask"),
            "HTTP 403: Forbidden (User missing or null)",
        ),
    ],
)
def test_http_errors_keep_the_standard_reason_phrase(domain_error, expected):
    http_error = _LTI13Handler._http_error(domain_error)
    assert isinstance(http_error, HTTPError)
    assert str(http_error) == expected
    assert http_error.reason is None
    # the advice goes on the page only
    assert http_error.jupyterhub_message == domain_error.user_message()


def test_module_level_names_of_the_handlers():
    assert handlers.STATE_COOKIE_NAME == "lti13authenticator-state"
    assert handlers.NONCE_STATE_COOKIE_NAME == "lti13authenticator-nonce-state"
    state = {"state_id": "abc", "next_url": "/hub/home", "n": [1, {"x": None}]}
    assert handlers._deserialize_state(handlers._serialize_state(state)) == state
    assert handlers._deserialize_state("%%%") == {}
    nonce_state = handlers.make_nonce_state()
    assert len(handlers.get_nonce(nonce_state)) == 64


def test_handler_classes_are_class_attributes_that_get_handlers_serves():
    class MyLogin(LTI13LoginInitHandler):
        pass

    class MyAuthenticator(LTI13Authenticator):
        login_handler = MyLogin

    auth = MyAuthenticator(
        issuer="https://lms.example",
        client_id="c",
        authorize_url="https://lms.example/auth",
        jwks_endpoint="https://lms.example/jwks",
        tool_private_key_file="/nonexistent/unused.pem",
        tool_private_key=_PEM,
    )
    routes = dict(auth.get_handlers(None))
    assert routes["lti13/oauth_login"] is MyLogin
    assert routes["lti13/oauth_callback"] is LTI13CallbackHandler
    assert routes["lti13/config"] is LTI13ConfigHandler


class _Request:
    def __init__(self, headers, protocol="http"):
        self.headers = headers
        self.protocol = protocol


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Forwarded-Proto": "https, http", "X-Scheme": "http"}, "https"),
        ({"X-Scheme": "https"}, "https"),
        ({}, "http"),
        (HTTPHeaders({"X-Forwarded-Proto": "HTTPS"}), "https"),
    ],
)
def test_get_browser_protocol(headers, expected):
    assert get_browser_protocol(_Request(headers)) == expected


def test_get_uri_scheme_does_not_touch_the_request_when_fixed():
    auth = LTI13Authenticator(uri_scheme="HTTPS")
    assert auth.get_uri_scheme(None) == "https"


def test_convert_request_to_dict_takes_the_first_value():
    assert convert_request_to_dict({"a": [b"1"], "b": [b"x", b"y"]}) == {"a": "1", "b": "x"}


async def test_authenticate_with_a_plain_handler_and_custom_username_key():
    auth = LTI13Authenticator(username_key="custom_uname")
    claims = {constants.LTI13_CUSTOM_CLAIM: {"uname": "Ada"}, "sub": "s1"}
    assert await auth.authenticate(object(), claims) == {"name": "Ada", "auth_state": claims}
    with pytest.raises(error.LoginError) as refused:
        await auth.authenticate(object(), {})
    assert str(refused.value) == "Unable to set the username with username_key uname"


_PEM = None


def setup_module():
    global _PEM
    from ltiauthenticator.lti13._tool_keys import generate_private_key_pem

    _PEM = generate_private_key_pem().decode()
