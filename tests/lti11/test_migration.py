"""Switching a hub from LTI 1.1 to LTI 1.3 keeps everyone's JupyterHub user.

Phase 1: a hub configured for LTI 1.1 (as the 1.6.3 docs did, default username_key)
receives launches signed by oauthlib. Phase 2: the same hub database, now configured
for LTI 1.3 with ``lti1p1_username``, receives launches from the platform emulator
carrying the lti1p1 migration claim, signed as the 1EdTech migration guide says (computed
here in the test, independently of the code under test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Dict, Iterator

import pytest
import requests

from ltiauthenticator.platform_emulator import EmulatedPlatform, Launch
from tests.support.client import LaunchClient
from tests.support.emulator import EmulatorServer
from tests.support.hub import free_port

from .conftest import LTI11Hub, launch_params, sign

LTI1P1 = "https://purl.imsglobal.org/spec/lti/claim/lti1p1"
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
KEY = "course-key"
SECRET = "course-secret-" + secrets.token_hex(8)

LTI11_CONFIG = f"""
c.JupyterHub.authenticator_class = "ltiauthenticator.LTIAuthenticator"
c.LTIAuthenticator.consumers = {{{KEY!r}: {SECRET!r}}}
"""

LTI13_CONFIG = """
c.JupyterHub.authenticator_class = "lti13"
c.LTI13Authenticator.issuer = {issuer!r}
c.LTI13Authenticator.client_id = [{client_id!r}]
c.LTI13Authenticator.authorize_url = {authorize_url!r}
c.LTI13Authenticator.jwks_endpoint = {jwks_url!r}

from ltiauthenticator.lti13 import lti1p1_username

c.LTI13Authenticator.username_key = lti1p1_username(
    consumers={consumers!r},  # what c.LTIAuthenticator.consumers was
    username_key="custom_canvas_user_id",  # what c.LTIAuthenticator.username_key was
)
"""


class MigratingPlatform(EmulatedPlatform):
    """An LMS that launched the hub with LTI 1.1 before: it adds the lti1p1 claim.

    A launch asks for the claim by giving ``claims={LTI1P1: {"user_id": ...}}``; the
    platform adds the consumer key and signs with the LTI 1.1 secret (or with the
    ``sign_with`` secret, to forge), over the claims of the id_token it issues.
    """

    def claims_for(self, launch: Launch, nonce: str) -> Dict[str, Any]:
        claims = super().claims_for(launch, nonce)
        claim = dict(claims.get(LTI1P1) or {})
        if claim:
            secret = claim.pop("sign_with", SECRET)
            claim["oauth_consumer_key"] = KEY
            message = "&".join(
                [KEY, claims[DEPLOYMENT], claims["iss"], claims["aud"], str(claims["exp"]), nonce]
            )
            digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
            claim["oauth_consumer_key_sign"] = base64.b64encode(digest).decode()
            claims[LTI1P1] = claim
        return claims


@dataclass
class Person:
    lti11_user_id: str
    username: str  # what LTI 1.1 made of them
    created: str = ""


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("migration")


@pytest.fixture(scope="module")
def crypt_key() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def people(port: int, workdir, crypt_key: str) -> Iterator[Dict[str, Person]]:
    """Phase 1: two people log in with LTI 1.1, through a hub that is then stopped."""
    people = {
        # a Moodle-like LMS: no custom_canvas_user_id, so the username is user_id
        "moodle": Person(lti11_user_id="moodle-7f3a2c", username="moodle-7f3a2c"),
        # Canvas: the 1.6.3 default username_key, custom_canvas_user_id, wins
        "canvas": Person(lti11_user_id="535fa085f22b4655f48cd5a36a9215f64c062838", username="4021"),
    }
    hub = LTI11Hub(
        port, workdir, LTI11_CONFIG, "lti11", db_name="migration.sqlite", crypt_key=crypt_key
    ).start()
    try:
        for who, person in people.items():
            extra = {"custom_canvas_user_id": "4021"} if who == "canvas" else {}
            params = launch_params(who, user_id=person.lti11_user_id, **extra)
            response = hub.post_launch(sign(hub.launch_url, params, key=KEY, secret=SECRET))
            assert response.status_code == 302, response.text[-800:]
            model = hub.user(person.username)
            assert model is not None, person
            person.created = model["created"]
        # something the hub keeps about a user besides the name: a group membership
        response = hub.api(
            "POST", "/groups/data101", json={"users": [p.username for p in people.values()]}
        )
        assert response.status_code == 201, response.text
    finally:
        hub.stop()
    yield people


@pytest.fixture(scope="module")
def emulator(port: int) -> Iterator[EmulatorServer]:
    server = EmulatorServer("localhost", free_port(), hub_url=f"http://127.0.0.1:{port}")
    server.platform = MigratingPlatform(server.url, server.platform.tool)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lti13_hub(people, emulator: EmulatorServer, port: int, workdir, crypt_key: str):
    """Phase 2: the same hub database, now for LTI 1.3 with lti1p1_username."""
    config = LTI13_CONFIG.format(
        issuer=emulator.url,
        client_id=emulator.tool.client_id,
        authorize_url=emulator.authorize_url,
        jwks_url=emulator.jwks_url,
        consumers={KEY: SECRET},
    )
    hub = LTI11Hub(
        port, workdir, config, "lti13", db_name="migration.sqlite", crypt_key=crypt_key
    ).start()
    yield hub
    hub.stop()


def _users(hub) -> set:
    return {u["name"] for u in hub.api("GET", "/users").json()}


@pytest.mark.parametrize("who", ["moodle", "canvas"])
def test_a_person_keeps_their_user_when_the_course_moves_to_lti13(
    lti13_hub, emulator, people, who
) -> None:
    person = people[who]
    claims: Dict[str, Any] = {LTI1P1: {"user_id": person.lti11_user_id}}
    if who == "canvas":  # the 1.3 tool asks Canvas for canvas_user_id=$Canvas.user.id
        claims[CUSTOM] = {"canvas_user_id": "4021"}
    before = _users(lti13_hub)
    client = LaunchClient()
    _, url = emulator.start_launch(Launch(user=who, claims=claims))

    result = client.launch(url)

    assert result.callback.status_code == 302, result.callback.text[-800:]
    me = client.session.get(f"{lti13_hub.url}/hub/api/user", timeout=10).json()
    assert me["name"] == person.username
    assert _users(lti13_hub) == before  # nobody new
    model = lti13_hub.user(person.username)
    assert model["created"] == person.created  # the very same user record
    assert "data101" in model["groups"]
    # and without lti1p1_username, LTI 1.3 would have named them otherwise
    assert person.username not in (f"{who}@example.edu", f"sub-{who}")


def test_a_forged_lti1p1_signature_is_refused(lti13_hub, emulator, people) -> None:
    person = people["moodle"]
    before = _users(lti13_hub)
    claims = {LTI1P1: {"user_id": person.lti11_user_id, "sign_with": "attacker-guess"}}
    client = LaunchClient()
    _, url = emulator.start_launch(Launch(user="mallory", claims=claims))

    result = client.launch(url)

    assert result.callback.status_code == 401, result.callback.text[-800:]
    assert "oauth_consumer_key_sign" in result.callback.text
    assert "jupyterhub-hub-login" not in client.session.cookies
    assert _users(lti13_hub) == before


def test_someone_new_to_the_course_gets_the_fallback_username(lti13_hub, emulator) -> None:
    user = "new" + secrets.token_hex(3)
    client = LaunchClient()
    _, url = emulator.start_launch(Launch(user=user))  # no LTI 1.1 identity

    result = client.launch(url)

    assert result.callback.status_code == 302, result.callback.text[-800:]
    assert lti13_hub.user(f"sub-{user}") is not None


def test_the_lti11_secret_is_not_logged(lti13_hub, emulator) -> None:
    client = LaunchClient()
    claims = {LTI1P1: {"user_id": "someone", "sign_with": "wrong"}}
    _, url = emulator.start_launch(Launch(user="eve", claims=claims))
    assert client.launch(url).callback.status_code == 401
    assert SECRET not in lti13_hub.log_text()
    assert requests.get(f"{lti13_hub.url}/hub/api/", timeout=10).status_code == 200
