"""LTI13LaunchValidator with an injected clock and key cache: pure checks, no network."""

import asyncio

import pytest

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.lti13.error import (
    IncorrectValueError,
    InvalidAudienceError,
    MissingRequiredArgumentError,
    PayloadTooLargeError,
    TokenError,
)
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch, ToolRegistration

NOW = 1_800_000_000


class PreloadedKeys(JWKSCache):
    """The key cache with the emulator's keys preloaded (no fetching)."""

    def __init__(self, platform):
        super().__init__()
        self.platform = platform

    async def get_signing_key(self, url, kid, alg):
        if kid not in self.platform.keys:
            raise TokenError("unknown kid")
        return self.platform.keys[kid].public_key()


@pytest.fixture(scope="module")
def platform():
    tool = ToolRegistration("tool", "https://hub/login", ["https://hub/cb"], "https://hub/hub/")
    return EmulatedPlatform("https://lms.example.edu", tool)


@pytest.fixture
def validator(platform):
    v = LTI13LaunchValidator(clock=lambda: NOW)
    v.key_cache = PreloadedKeys(platform)
    return v


def token(platform, **launch_fields):
    launch = Launch(**launch_fields)
    claims = platform.claims_for(launch, "n" * 64)
    claims["iat"], claims["exp"] = NOW, NOW + 300
    for name, value in launch_fields.get("claims", {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return platform.sign(claims, launch.headers)


def verify(validator, jwt, **kw):
    args = dict(
        issuer="https://lms.example.edu",
        audience={"tool"},
        jwks_endpoint="x",
        jwks_algorithms=["RS256"],
    )
    args.update(kw)
    return asyncio.run(validator.verify_and_decode_jwt(jwt, **args))


def test_valid_token(validator, platform):
    claims = verify(validator, token(platform))
    validator.validate_azp_claim(claims, {"tool"})
    validator.validate_id_token(claims)


@pytest.mark.parametrize(
    ("claims", "error", "message"),
    [
        ({"exp": NOW - 1}, TokenError, "expired"),
        ({"iat": NOW + 5}, TokenError, "not yet valid"),
        ({"iat": NOW - 601}, TokenError, "600 seconds"),
        ({"nbf": NOW + 5}, TokenError, "nbf"),
        ({"iss": "https://other"}, TokenError, "issuer"),
        ({"aud": "other"}, InvalidAudienceError, "aud"),
        ({"aud": 3}, IncorrectValueError, "'aud' claim"),
        ({"nonce": None}, MissingRequiredArgumentError, "'nonce' claim"),
        ({"exp": "1900000000"}, IncorrectValueError, "number"),
        ({"iat": True}, IncorrectValueError, "number"),
    ],
)
def test_registered_claims(validator, platform, claims, error, message):
    with pytest.raises(error, match=message):
        verify(validator, token(platform, claims=claims))


def test_leeway_applies_to_time_claims(validator, platform):
    validator.time_leeway = 10
    verify(validator, token(platform, claims={"iat": NOW + 5, "nbf": NOW + 5}))
    verify(validator, token(platform, claims={"exp": NOW - 5}))
    with pytest.raises(TokenError):
        verify(validator, token(platform, claims={"iat": NOW + 11}))


def test_max_age_zero_turns_the_age_check_off(validator, platform):
    validator.max_age = 0
    verify(validator, token(platform, claims={"iat": NOW - 5000, "exp": NOW + 10}))


def test_algorithms_outside_jwks_algorithms_are_refused(validator, platform):
    with pytest.raises(TokenError, match="algorithm"):
        verify(validator, token(platform), jwks_algorithms=["RS512"])
    with pytest.raises(TokenError, match="algorithm"):
        verify(validator, token(platform), jwks_algorithms=["HS256", "none"])


def test_oversize_token(validator, platform):
    validator.max_token_length = 100
    with pytest.raises(PayloadTooLargeError):
        verify(validator, token(platform))


@pytest.mark.parametrize(
    ("claims", "client_ids", "ok"),
    [
        ({"aud": "tool"}, {"tool"}, True),
        ({"aud": ["tool"]}, {"tool"}, True),
        ({"aud": ["tool", "other"]}, {"tool"}, False),
        ({"aud": ["tool", "other"], "azp": "tool"}, {"tool"}, True),
        ({"aud": "tool", "azp": "other"}, {"tool"}, False),
        ({"aud": ["a", "b"], "azp": "b"}, {"b", "c"}, True),
    ],
)
def test_azp(validator, claims, client_ids, ok):
    if ok:
        validator.validate_azp_claim(claims, client_ids)
    else:
        with pytest.raises(InvalidAudienceError):
            validator.validate_azp_claim(claims, client_ids)


def test_deep_linking_needs_its_settings_not_resource_link_claims(validator, platform):
    claims = verify(
        validator,
        token(
            platform,
            message_type=c.DEEP_LINKING_REQUEST,
            course=None,
            claims={c.ROLES_CLAIM: None, c.TARGET_LINK_URI_CLAIM: None},
        ),
    )
    validator.validate_id_token(claims)
    del claims[c.DEEP_LINKING_SETTINGS_CLAIM]
    with pytest.raises(MissingRequiredArgumentError, match="deep_linking_settings"):
        validator.validate_id_token(claims)


def test_login_request_checks():
    v = LTI13LaunchValidator()
    good = {"iss": "https://lms", "login_hint": "h", "target_link_uri": "https://hub/"}
    v.validate_login_request(good)
    with pytest.raises(MissingRequiredArgumentError, match="login_hint"):
        v.validate_login_request({**good, "login_hint": " "})
    with pytest.raises(IncorrectValueError, match="more than once"):
        v.validate_login_request({**good, "iss": ["a", "b"]})
    with pytest.raises(PayloadTooLargeError):
        v.validate_login_request({**good, "lti_message_hint": "x" * 10000})


def test_deployment_allowlist(validator):
    claims = {c.DEPLOYMENT_ID_CLAIM: "d1"}
    validator.validate_deployment(claims, None)
    validator.validate_deployment(claims, {"d1"})
    with pytest.raises(IncorrectValueError, match="'d1'"):
        validator.validate_deployment(claims, {"d2"})


@pytest.mark.parametrize(
    "segment",
    ["", "a", "ab+c", "ab/c", "abc=", "ab c", "\u00e9\u00e9", "ab\ncd"],
    ids=["empty", "one-char", "plus", "slash", "padded", "space", "non-ascii", "newline"],
)
def test_header_segments_must_be_strict_base64url(segment):
    from ltiauthenticator.lti13 import _jwt

    with pytest.raises(TokenError, match="base64url"):
        _jwt.parse_compact(f"{segment}.e30.c2ln")
