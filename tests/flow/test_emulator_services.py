"""The emulator's token endpoint checks client assertions as a strict platform does."""

from __future__ import annotations

import secrets
import time

import pytest
import requests

from ltiauthenticator.lti13._service_token import CLIENT_ASSERTION_TYPE
from ltiauthenticator.lti13._tool_keys import ToolSigner, generate_private_key_pem
from ltiauthenticator.platform_emulator.services import services_of

SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@pytest.fixture
def signer(hub):
    """The running hub's tool key: the one the emulator finds at /hub/lti13/jwks."""
    return ToolSigner((hub.workdir / "lti13_tool_key.pem").read_bytes())


def assertion(signer, emulator, **changes):
    now = int(time.time())
    claims = {
        "iss": emulator.tool.client_id,
        "sub": emulator.tool.client_id,
        "aud": emulator.url + "/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        **changes,
    }
    return signer.sign({k: v for k, v in claims.items() if v is not None})


def ask(emulator, client_assertion, grant="client_credentials"):
    return requests.post(
        emulator.url + "/token",
        data={
            "grant_type": grant,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion,
            "scope": SCORE,
        },
        timeout=10,
    )


def test_valid_assertion_gets_a_token_once(signer, emulator):
    token = assertion(signer, emulator)
    first = ask(emulator, token)
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == SCORE and first.json()["expires_in"] > 0
    replay = ask(emulator, token)
    assert replay.status_code == 401 and "jti" in replay.json()["error_description"]


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"aud": "https://elsewhere/token"}, "Audience"),
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 180}, "expired"),
        ({"iss": "someone-else"}, "issuer"),
        ({"sub": "someone-else"}, "sub must be the client id"),
        ({"jti": None}, "jti"),
    ],
)
def test_bad_assertions_are_refused(signer, emulator, changes, words):
    response = ask(emulator, assertion(signer, emulator, **changes))
    assert response.status_code == 401
    assert words.lower() in response.json()["error_description"].lower()


def test_assertion_signed_by_another_key_or_wrong_grant(signer, emulator, hub):
    stranger = ToolSigner(generate_private_key_pem())
    response = ask(emulator, assertion(stranger, emulator))
    assert response.status_code == 401 and "no tool key" in response.json()["error_description"]
    response = ask(emulator, assertion(signer, emulator), grant="password")
    assert response.status_code == 400
    assert services_of(emulator.platform).token_errors[-1].startswith("grant_type")
