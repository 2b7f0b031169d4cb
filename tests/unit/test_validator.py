"""LTI13LaunchValidator with an injected clock and key cache: pure checks, no network."""

import base64
import json

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

    def cached_signing_key(self, url, kid, alg):
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
    return validator.verify_and_decode_jwt(jwt, **args)


def test_valid_token(validator, platform):
    claims = verify(validator, token(platform))
    validator.validate_azp_claim(claims, {"tool"})
    validator.validate_id_token(claims)


@pytest.mark.parametrize(
    ("claims", "error", "message"),
    [
        # the established plugin's (PyJWT's) messages, exactly
        ({"exp": NOW - 1}, TokenError, "^Signature has expired$"),
        ({"iat": NOW + 5}, TokenError, r"^The token is not yet valid \(iat\)$"),
        ({"nbf": NOW + 5}, TokenError, r"^The token is not yet valid \(nbf\)$"),
        ({"iss": "https://other"}, TokenError, "^Invalid issuer$"),
        ({"aud": "other"}, InvalidAudienceError, "^Audience doesn't match$"),
        ({"aud": 3}, IncorrectValueError, "'aud' claim"),
        ({"nonce": None}, MissingRequiredArgumentError, "'nonce' claim"),
        ({"exp": "1900000000"}, IncorrectValueError, "number"),
        ({"iat": True}, IncorrectValueError, "number"),
    ],
)
def test_registered_claims(validator, platform, claims, error, message):
    with pytest.raises(error, match=message):
        verify(validator, token(platform, claims=claims))


def test_no_audience_given_means_invalid_audience(validator, platform):
    with pytest.raises(InvalidAudienceError, match="^Invalid audience$"):
        verify(validator, token(platform), audience=None)


def test_bad_signature_has_the_established_message(validator, platform):
    header, payload, signature = token(platform).split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["email"] = "someone-else@example.edu"
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="^Signature verification failed$"):
        verify(validator, f"{header}.{payload}.{signature}")


def test_clock_skew_message_names_the_skew_and_the_setting(validator, platform):
    with pytest.raises(TokenError) as refused:
        verify(validator, token(platform, claims={"iat": NOW + 42}))
    assert "42 s ahead" in refused.value.hint and "time_leeway" in refused.value.hint
    assert "42 s ahead" in refused.value.detail


def test_max_age_is_checked_with_the_message_claims(validator, platform):
    claims = verify(validator, token(platform, claims={"iat": NOW - 601, "exp": NOW + 60}))
    with pytest.raises(TokenError, match="600 seconds"):
        validator.validate_id_token(claims)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(platform, validator, literal):
    """``exp=iat=NaN`` or ``exp=Infinity`` would slip through every comparison."""
    header, payload, _ = token(platform).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    text = json.dumps(claims).replace(f'"exp": {claims["exp"]}', f'"exp": {literal}')
    assert literal in text
    signed = platform.sign_raw_payload(text.encode(), {})
    with pytest.raises(TokenError, match="not valid JSON"):
        verify(validator, signed)


def test_unknown_critical_header_is_refused(platform, validator):
    signed = token(platform, headers={"crit": ["exp"], "exp": 1})
    with pytest.raises(TokenError, match="crit"):
        verify(validator, signed)


def test_verify_signature_false_is_the_callers_explicit_choice(validator, platform):
    claims = verify(
        validator,
        token(platform, claims={"exp": NOW - 999}),
        jwks_endpoint="",
        options={"verify_signature": False},
    )
    assert claims["exp"] == NOW - 999


def test_replay_window_covers_exp_and_max_age(validator):
    # Canvas sends exp an hour after iat: the nonce must be kept that long.
    assert validator.replay_window({"iat": NOW, "exp": NOW + 3600}) >= 3600
    validator.max_age = 0
    assert validator.replay_window({"iat": NOW, "exp": NOW + 30}) >= 30
    validator.max_age = 900
    validator.time_leeway = 20
    assert validator.replay_window({"iat": NOW, "exp": NOW + 60}) >= 920


def test_leeway_applies_to_time_claims(validator, platform):
    validator.time_leeway = 10
    verify(validator, token(platform, claims={"iat": NOW + 5, "nbf": NOW + 5}))
    verify(validator, token(platform, claims={"exp": NOW - 5}))
    with pytest.raises(TokenError):
        verify(validator, token(platform, claims={"iat": NOW + 11}))


def test_max_age_zero_turns_the_age_check_off(validator, platform):
    validator.max_age = 0
    claims = verify(validator, token(platform, claims={"iat": NOW - 5000, "exp": NOW + 10}))
    validator.validate_id_token(claims)


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
