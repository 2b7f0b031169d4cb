"""lti1p1_username: LTI 1.1 usernames from LTI 1.3 claims, the migration claim verified."""

from __future__ import annotations

import copy

import pytest

from ltiauthenticator.lti13._lti1p1 import (
    LTI1P1_CLAIM,
    LTI1p1ClaimError,
    lti1p1_signature,
    lti1p1_username,
)

CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"

# The worked example of the 1EdTech LTI 1.1 migration guide: consumer key 179248902 with
# secret "my-lti11-secret", deployment 689302, issuer https://lmsvendor.com, client id
# PM48OJSfGDTAzAo, exp 1551290856 and nonce 172we8671fd8z sign to the value below.
SPEC_CONSUMERS = {"179248902": "my-lti11-secret"}
SPEC_SIGN = "lWd54kFo5qU7xshAna6v8BwoBm6tmUjc6GTax6+12ps="


@pytest.fixture
def claims() -> dict:
    return {
        "iss": "https://lmsvendor.com",
        "aud": "PM48OJSfGDTAzAo",
        "sub": "a6d5c443-1f51-4783-ba1a-7686ffe3b54a",
        "exp": 1551290856,
        "iat": 1551290796,
        "nonce": "172we8671fd8z",
        "email": "ada@example.edu",
        DEPLOYMENT: "689302",
        LTI1P1_CLAIM: {
            "user_id": "34212",
            "oauth_consumer_key": "179248902",
            "oauth_consumer_key_sign": SPEC_SIGN,
        },
    }


def test_the_signature_of_the_migration_guide_example(claims) -> None:
    assert lti1p1_signature("179248902", "my-lti11-secret", claims) == SPEC_SIGN


def test_the_11_user_id_is_the_username_once_its_signature_holds(claims) -> None:
    assert lti1p1_username(SPEC_CONSUMERS)(claims) == "34212"


def test_azp_is_the_client_id_when_aud_lists_several(claims) -> None:
    claims["aud"] = ["PM48OJSfGDTAzAo", "another-audience"]
    claims["azp"] = "PM48OJSfGDTAzAo"
    assert lti1p1_username(SPEC_CONSUMERS)(claims) == "34212"
    claims["azp"] = "another-audience"
    with pytest.raises(LTI1p1ClaimError):
        lti1p1_username(SPEC_CONSUMERS)(claims)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[LTI1P1_CLAIM].update(oauth_consumer_key_sign="A" * 43 + "="),
        lambda c: c[LTI1P1_CLAIM].update(oauth_consumer_key_sign="not base64!"),
        lambda c: c[LTI1P1_CLAIM].pop("oauth_consumer_key_sign"),
        lambda c: c[LTI1P1_CLAIM].update(oauth_consumer_key="unknown"),
        lambda c: c[LTI1P1_CLAIM].pop("oauth_consumer_key"),
        lambda c: c.update(nonce="another-nonce"),
        lambda c: c.update(exp=1551290857),
        lambda c: c.update(iss="https://another-platform.example"),
        lambda c: c.update({DEPLOYMENT: "another-deployment"}),
        lambda c: c.pop(DEPLOYMENT),
        lambda c: c.update({LTI1P1_CLAIM: "34212"}),
    ],
    ids=[
        "forged-sign",
        "garbage-sign",
        "unsigned",
        "unknown-key",
        "no-key",
        "other-nonce",
        "other-exp",
        "other-issuer",
        "other-deployment",
        "no-deployment",
        "claim-not-an-object",
    ],
)
def test_an_unverifiable_claim_is_refused_with_401(claims, tamper) -> None:
    tamper(claims)
    with pytest.raises(LTI1p1ClaimError) as info:
        lti1p1_username(SPEC_CONSUMERS)(claims)
    assert info.value.status_code == 401


def test_a_wrong_secret_is_refused(claims) -> None:
    with pytest.raises(LTI1p1ClaimError, match="oauth_consumer_key_sign is wrong"):
        lti1p1_username({"179248902": "another-secret"})(claims)


def test_without_consumers_the_claim_is_read_unverified(claims) -> None:
    claims[LTI1P1_CLAIM] = {"user_id": "34212"}
    assert lti1p1_username()(claims) == "34212"


def test_the_canvas_default_prefers_the_custom_canvas_user_id(claims) -> None:
    # LTI 1.1 default username_key: custom_canvas_user_id, else user_id
    read = lti1p1_username(SPEC_CONSUMERS, username_key="custom_canvas_user_id")
    with_custom = copy.deepcopy(claims)
    with_custom[CUSTOM] = {"canvas_user_id": "1234"}
    assert read(with_custom) == "1234"
    assert read(claims) == "34212"


def test_a_numeric_custom_value_is_used_as_text(claims) -> None:
    claims[CUSTOM] = {"canvas_user_id": 1234}
    assert lti1p1_username(SPEC_CONSUMERS)(claims) == "1234"


def test_a_bad_signature_is_refused_even_when_the_custom_claim_names_the_user(claims) -> None:
    claims[CUSTOM] = {"canvas_user_id": "1234"}
    claims[LTI1P1_CLAIM]["oauth_consumer_key_sign"] = "A" * 43 + "="
    with pytest.raises(LTI1p1ClaimError):
        lti1p1_username(SPEC_CONSUMERS)(claims)


@pytest.mark.parametrize(
    "username_key, expected",
    [
        ("user_id", "34212"),
        ("lis_person_contact_email_primary", "ada@example.edu"),
        ("custom_missing", "34212"),  # falls back to user_id, as LTI 1.1 did
    ],
)
def test_11_username_keys_map_to_13_claims(claims, username_key, expected) -> None:
    assert lti1p1_username(SPEC_CONSUMERS, username_key=username_key)(claims) == expected


def test_an_11_key_without_13_counterpart_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="ext_user_username"):
        lti1p1_username(username_key="ext_user_username")


@pytest.mark.parametrize(
    "fallback, expected",
    [
        ("sub", "a6d5c443-1f51-4783-ba1a-7686ffe3b54a"),
        ("email", "ada@example.edu"),
        ("custom_uname", "ada"),
        (lambda claims: "from-callable", "from-callable"),
        (None, None),
    ],
)
def test_without_an_11_identity_the_fallback_applies(claims, fallback, expected) -> None:
    del claims[LTI1P1_CLAIM]
    claims[CUSTOM] = {"uname": "ada"}
    assert lti1p1_username(SPEC_CONSUMERS, fallback=fallback)(claims) == expected


def test_the_callable_has_a_readable_name_for_error_messages() -> None:
    assert "custom_canvas_user_id" in lti1p1_username().__name__
