"""The known-bad launches, every one, through the checks a launch callback runs.

The order is the callback's: signature and registered claims, ``azp``, LTI message
claims, deployment, then the username. (The flow tier sends a handful of the same cases
through a real hub: tests/flow/test_refusals.py.)
"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from traitlets.config import Config

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import LTI13Error
from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch, ToolRegistration

from ..support.bad_launches import BAD_LAUNCHES
from ..support.keys import PlatformKeys, prefetch

ISSUER = "https://lms.example.edu"
CLIENT_ID = "jupyterhub-tool"
NONCE = "n" * 64


@pytest.fixture(scope="module")
def platform() -> EmulatedPlatform:
    tool = ToolRegistration(CLIENT_ID, "https://hub/login", ["https://hub/cb"], "https://hub/hub/")
    return EmulatedPlatform(ISSUER, tool)


def authenticator_for(platform: EmulatedPlatform) -> LTI13Authenticator:
    """An authenticator registered with ``platform``, reading its keys without a socket."""
    config = Config()
    config.LTI13Authenticator.issuer = ISSUER
    config.LTI13Authenticator.client_id = [CLIENT_ID]
    config.LTI13Authenticator.authorize_url = ISSUER + "/authorize"
    config.LTI13Authenticator.jwks_endpoint = ISSUER + "/jwks"
    auth = LTI13Authenticator(config=config)
    auth.key_cache = auth.validator.key_cache = PlatformKeys(platform)
    return auth


@pytest.fixture
def authenticator(platform) -> LTI13Authenticator:
    return authenticator_for(platform)


def run_callback_checks(auth: LTI13Authenticator, id_token: str) -> Dict[str, Any]:
    """What LTI13CallbackHandler checks after the state, minus the nonce (handler state)."""
    (registration,) = auth.registry.registrations
    validator = auth.validator
    prefetch(validator.key_cache, registration.jwks_endpoint, id_token)
    claims = validator.verify_and_decode_jwt(
        id_token,
        issuer=registration.issuer,
        audience=registration.client_ids,
        jwks_endpoint=registration.jwks_endpoint,
        jwks_algorithms=auth.jwks_algorithms,
    )
    validator.validate_id_token(claims)
    validator.validate_deployment(claims, registration.deployment_ids)
    validator.validate_azp_claim(claims, registration.client_ids)
    auth.get_username(claims)
    return claims


def test_the_unbroken_launch_passes(authenticator, platform):
    claims = run_callback_checks(authenticator, platform.id_token_for(Launch(user="ada"), NONCE))
    assert authenticator.get_username(claims) == "ada@example.edu"


@pytest.mark.parametrize("case", list(BAD_LAUNCHES), ids=list(BAD_LAUNCHES))
def test_known_bad_launch_is_refused_with_its_status_and_reason(authenticator, platform, case):
    fields, status, message = BAD_LAUNCHES[case]
    id_token = platform.id_token_for(Launch(user="ada", **fields), NONCE)
    with pytest.raises(LTI13Error) as refused:
        run_callback_checks(authenticator, id_token)
    assert refused.value.status_code == status
    # the message people search for, or its explanation (hint) for PyJWT's terse messages
    assert message in f"{refused.value.message} {refused.value.hint}"
    assert refused.value.reason  # every refusal has a reason for the log and the metrics
