"""Property-based tests of the launch checks, at the validator: many examples, no sockets.

Whatever a platform (or an attacker) signs or sends, the checks end in an accepted
launch or an :class:`LTI13Error` with a 4xx status; never another exception (a 500).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import LTI13Error
from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch, ToolRegistration

from ..support.strategies import REQUIRED, invalid_value, json_values
from .test_claims_matrix import CLIENT_ID, ISSUER, NONCE, authenticator_for, run_callback_checks

MANY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# the nonce is compared by the callback handler, with its cookie: the flow tier's part
CHECKED_HERE = [name for name in REQUIRED if name != "nonce"]


@pytest.fixture(scope="module")
def platform() -> EmulatedPlatform:
    tool = ToolRegistration(CLIENT_ID, "https://hub/login", ["https://hub/cb"], "https://hub/hub/")
    return EmulatedPlatform(ISSUER, tool)


@pytest.fixture(scope="module")
def authenticator(platform) -> LTI13Authenticator:
    return authenticator_for(platform)


def assert_refused_with_a_4xx(auth, id_token: str) -> LTI13Error:
    with pytest.raises(LTI13Error) as refused:
        run_callback_checks(auth, id_token)
    assert 400 <= refused.value.status_code < 500, refused.value
    return refused.value


@MANY
@given(data=st.data())
def test_any_invalid_claim_set_is_refused_with_a_4xx(authenticator, platform, data):
    claims = platform.claims_for(Launch(user="ada"), NONCE)
    broken = data.draw(st.lists(st.sampled_from(CHECKED_HERE), min_size=1, max_size=3, unique=True))
    for name in broken:
        if data.draw(st.booleans(), label=f"delete {name}"):
            claims.pop(name, None)
        else:
            claims[name] = data.draw(invalid_value(name, issuer=ISSUER), label=name)
    extra = data.draw(st.dictionaries(st.text(max_size=12), json_values, max_size=3))
    claims.update({k: v for k, v in extra.items() if k not in REQUIRED})
    error = assert_refused_with_a_4xx(authenticator, platform.sign(claims))
    assert error.status_code in (400, 401)


@MANY
@given(
    changes=st.dictionaries(st.text(max_size=40), json_values, max_size=4),
    removed=st.lists(st.sampled_from(["sub", "email", "given_name", "name"]), max_size=4),
)
def test_extra_or_odd_claims_never_cause_anything_but_acceptance_or_a_4xx(
    authenticator, platform, changes, removed
):
    claims = platform.claims_for(Launch(user="ada"), NONCE)
    for name in removed:
        claims.pop(name, None)
    claims.update({k: v for k, v in changes.items() if k not in REQUIRED})
    try:
        accepted = run_callback_checks(authenticator, platform.sign(claims))
    except LTI13Error as e:
        assert 400 <= e.status_code < 500, e
    else:
        assert accepted["iss"] == ISSUER and accepted["nonce"] == NONCE


@MANY
@given(token=st.text(max_size=400) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_arbitrary_id_token_text_is_a_4xx(authenticator, token):
    assert_refused_with_a_4xx(authenticator, token)


@MANY
@given(
    header=json_values,
    payload=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_properly_signed_arbitrary_headers_and_payloads_are_a_4xx(
    authenticator, platform, header, payload
):
    from jwt.api_jws import PyJWS

    signing_header = header if isinstance(header, dict) else {"x": header}
    token = PyJWS().encode(
        payload,
        platform.keys[platform.signing_kid],
        algorithm="RS256",
        headers={**signing_header, "kid": platform.signing_kid},
    )
    assert_refused_with_a_4xx(authenticator, token)


def test_the_properties_can_fail(authenticator, platform):
    """The unbroken launch passes the same checks, so refusals above are the changes'."""
    claims = run_callback_checks(
        authenticator, platform.sign(platform.claims_for(Launch(user="ada"), NONCE))
    )
    assert asyncio.run(authenticator.authenticate(None, claims))["name"] == "ada@example.edu"
