"""One hub, several LMSs: registrations, deployments, roles to groups, tool keys, metrics.

Two emulated platforms with their own keys and issuers, plus a third registration that
shares the first one's issuer under another client id (as Canvas cloud does).
"""

from __future__ import annotations

import html
import os
import stat

import jupyterhub
import pytest
import requests

from ltiauthenticator.lti13 import constants as c
from ltiauthenticator.lti13._tool_keys import generate_private_key_pem, public_jwk
from ltiauthenticator.platform_emulator import Launch

from ..support.client import LaunchClient
from ..support.emulator import EmulatorServer, registration
from ..support.hub import free_port


@pytest.fixture(scope="module")
def moodle(hub_port):
    server = EmulatorServer(
        "localhost", free_port(), hub_url=f"http://127.0.0.1:{hub_port}", client_id="moodle-tool"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def partner(hub_port, emulator):
    """Same issuer as ``emulator``, another client id and key set (one issuer, many tenants)."""
    server = EmulatorServer(
        "localhost",
        free_port(),
        hub_url=f"http://127.0.0.1:{hub_port}",
        client_id="partner-tool",
        issuer=emulator.url,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def multi_hub(hub_with, emulator, moodle, partner):
    return hub_with(
        LTI13Authenticator={
            "issuer": "",
            "client_id": [],
            "authorize_url": "",
            "jwks_endpoint": "",
            "platforms": [
                registration(emulator, name="canvas", deployment_ids=["deployment-1"]),
                registration(
                    moodle, name="moodle", username_key="custom_uname", username_prefix="moodle-"
                ),
                registration(partner, name="canvas-partner", username_prefix="partner-"),
            ],
        }
    )


def test_each_platform_launches_with_its_own_keys_and_settings(
    multi_hub, emulator, moodle, partner, user
):
    for server, expected in (
        (emulator, f"{user}a@example.edu"),
        (moodle, f"moodle-{user}b"),  # this registration reads custom uname, in its namespace
        (partner, f"partner-{user}c@example.edu"),
    ):
        suffix = expected.split(user, 1)[1][0]
        _, url = server.start_launch(user=user + suffix)
        response = LaunchClient().launch(url).callback
        assert response.status_code == 302, (server.url, response.text[-600:])
        model = multi_hub.user(expected)
        assert model["auth_state"]["iss"] == server.platform.issuer


def test_keys_of_one_platform_never_validate_a_launch_claiming_another(
    multi_hub, emulator, moodle, user
):
    launch, url = emulator.start_launch(user=user)
    client = LaunchClient()

    def forge(form):
        import jwt

        nonce = jwt.decode(form["id_token"], options={"verify_signature": False})["nonce"]
        # moodle signs a token that claims to come from the canvas emulator
        form["id_token"] = moodle.platform.sign(emulator.platform.claims_for(launch, nonce))

    response = client.launch(url, tamper=forge).callback
    assert response.status_code == 400
    assert multi_hub.user(f"{user}@example.edu") is None


def _swap_token(launch, signer, claims_from):
    """A tamper: the form's id_token replaced by ``signer``'s, with ``claims_from``'s claims."""

    def swap(form):
        import jwt

        nonce = jwt.decode(form["id_token"], options={"verify_signature": False})["nonce"]
        form["id_token"] = signer.platform.sign(claims_from.platform.claims_for(launch, nonce))

    return swap


def test_same_issuer_other_client_id_uses_only_its_own_registration(
    multi_hub, emulator, partner, user
):
    """A partner tenant's token cannot complete a login started for the main tenant.

    The partner's keys are not the main registration's keys: refused on the key (400).
    """
    launch, url = emulator.start_launch(user=user)
    response = LaunchClient().launch(url, tamper=_swap_token(launch, partner, partner)).callback
    assert response.status_code == 400, response.text[-600:]
    assert "does not publish" in html.unescape(response.text)
    assert multi_hub.user(f"{user}@example.edu") is None


def test_same_issuer_and_keys_but_the_other_client_id_is_401(multi_hub, emulator, partner, user):
    """Tenants of one issuer usually share its keys: then the audience check refuses."""
    launch, url = emulator.start_launch(user=user)
    swap = _swap_token(launch, emulator, partner)  # the partner's aud, the main keys
    response = LaunchClient().launch(url, tamper=swap).callback
    assert response.status_code == 401, response.text[-600:]
    assert "client id (aud)" in html.unescape(response.text)
    assert multi_hub.user(f"{user}@example.edu") is None


def test_deployment_not_on_the_allowlist_is_refused_naming_it(multi_hub, emulator, user):
    _, url = emulator.start_launch(
        Launch(user=user, claims={c.DEPLOYMENT_ID_CLAIM: "deployment-9"})
    )
    response = LaunchClient().launch(url).callback
    assert response.status_code == 400
    assert "deployment 'deployment-9'" in html.unescape(response.text)
    assert multi_hub.user(f"{user}@example.edu") is None


def test_deployment_checked_already_at_login_initiation(multi_hub, emulator):
    launch, _ = emulator.start_launch()
    params = dict(emulator.login_parameters(launch), lti_deployment_id="deployment-9")
    response = requests.get(
        multi_hub.url + "/hub/lti13/oauth_login", params=params, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    assert "deployment-9" in html.unescape(response.text)


def test_refusals_are_logged_once_with_reason_and_registration(multi_hub, emulator, user):
    _, url = emulator.start_launch(Launch(user=user, claims={c.DEPLOYMENT_ID_CLAIM: "dep-x"}))
    LaunchClient().launch(url)
    lines = [
        line
        for line in multi_hub.log_text().splitlines()
        if "refused" in line and "unknown_deployment" in line and "dep-x" in line
    ]
    assert len(lines) == 1
    assert f"iss={emulator.url}" in lines[0] and "client_id=jupyterhub-tool" in lines[0]
    assert "@example.edu" not in lines[0]


# -- roles and courses ---------------------------------------------------------------------

needs_jupyterhub5 = pytest.mark.skipif(
    int(jupyterhub.__version__.split(".")[0]) < 5,
    reason="Authenticator.manage_roles arrived in JupyterHub 5",
)

RECIPE = {
    "Authenticator": {"manage_groups": True, "manage_roles": True},
    "LTI13Authenticator": {
        "role_scopes": {
            "Instructor": [
                "access:servers!group={course}-learners",
                "read:users!group={course}-learners",
                "list:users!group={course}-learners",
            ]
        },
        "admin_roles": {"system:Administrator"},
    },
}


def _whoami(client, hub):
    return client.session.get(hub.url + "/hub/api/user", timeout=10).json()


@needs_jupyterhub5
def test_instructors_reach_their_students_and_students_do_not(hub_with, emulator, user):
    hub = hub_with(**RECIPE)
    course = {"id": f"c-{user}", "label": f"PHYS {user}", "title": "Physics"}
    other_course = {"id": f"o-{user}", "label": f"CHEM {user}", "title": "Chemistry"}
    clients = {}
    for name, role, course_ in (
        ("teacher", "instructor", course),
        ("student", "student", course),
        ("outsider", "student", other_course),
    ):
        clients[name] = LaunchClient()
        _, url = emulator.start_launch(Launch(user=f"{name}{user}", role=role, course=course_))
        assert clients[name].launch(url).callback.status_code == 302

    teacher, student, outsider = (
        f"{n}{user}@example.edu" for n in ("teacher", "student", "outsider")
    )
    # groups are keyed on the platform (its issuer's host here) and the course's context_id
    assert hub.user(teacher)["groups"] == [f"localhost-c-{user}-instructors"]
    assert hub.user(student)["groups"] == [f"localhost-c-{user}-learners"]
    assert hub.user(outsider)["groups"] == [f"localhost-o-{user}-learners"]

    teacher_scopes = set(_whoami(clients["teacher"], hub)["scopes"])
    assert f"access:servers!group=localhost-c-{user}-learners" in teacher_scopes
    student_scopes = set(_whoami(clients["student"], hub)["scopes"])
    assert not any(s.startswith("access:servers!group") for s in student_scopes)

    def get_user(client, name):
        return client.session.get(f"{hub.url}/hub/api/users/{name}", timeout=10).status_code

    assert get_user(clients["teacher"], student) == 200  # the recipe's promise
    assert get_user(clients["teacher"], outsider) in (403, 404)  # not their course
    assert get_user(clients["student"], teacher) in (403, 404)
    assert get_user(clients["student"], outsider) in (403, 404)
    assert hub.user(teacher)["admin"] is False


def test_admin_roles_make_admins(hub_with, emulator, user):
    hub = hub_with(LTI13Authenticator={"admin_roles": {"system:Administrator"}})
    _, url = emulator.start_launch(Launch(user=user, role="admin"))
    assert LaunchClient().launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu")["admin"] is True


def test_groups_only_with_manage_groups(hub, emulator, user):
    _, url = emulator.start_launch(Launch(user=user, role="instructor"))
    assert LaunchClient().launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu")["groups"] == []


# -- the tool's own keys ----------------------------------------------------------------------


def test_tool_jwks_is_served_persisted_and_listed_in_the_config_json(hub_with, tmp_path, client):
    key_file = tmp_path / "tool.pem"
    hub = hub_with(LTI13Authenticator={"tool_private_key_file": str(key_file)})
    first = client.session.get(hub.url + "/hub/lti13/jwks", timeout=10)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    (key,) = first.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    document = client.session.get(hub.url + "/hub/lti13/config", timeout=10).json()
    assert document["public_jwk_url"] == hub.url + "/hub/lti13/jwks"
    # as after a restart: the key is loaded again, from the file, not generated anew
    written = key_file.read_bytes()
    hub = hub_with(
        LTI13Authenticator={"tool_private_key_file": str(key_file), "tool_name": "restarted"}
    )
    again = client.session.get(hub.url + "/hub/lti13/jwks", timeout=10).json()
    assert again["keys"][0]["kid"] == key["kid"]
    assert key_file.read_bytes() == written


def test_tool_key_from_config_value_and_rotation_key(hub_with, tmp_path):
    current = generate_private_key_pem()
    upcoming = tmp_path / "next.pem"
    upcoming.write_bytes(generate_private_key_pem())
    hub = hub_with(
        LTI13Authenticator={
            "tool_private_key": current.decode(),
            "tool_extra_public_keys": [str(upcoming)],
        }
    )
    kids = [k["kid"] for k in requests.get(hub.url + "/hub/lti13/jwks", timeout=10).json()["keys"]]
    assert kids == [public_jwk(current)["kid"], public_jwk(upcoming.read_bytes())["kid"]]


# -- metrics ------------------------------------------------------------------------------------


def _samples(hub):
    metrics = requests.get(
        hub.url + "/hub/metrics", headers={"Authorization": f"token {hub.token}"}, timeout=10
    ).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ltiauthenticator_")
    }


def test_prometheus_counters_on_hub_metrics(hub, emulator, user):
    accepted = 'ltiauthenticator_launches_total{outcome="accepted",reason=""}'
    refused = 'ltiauthenticator_launches_total{outcome="refused",reason="wrong_audience"}'
    not_a_launch = (
        'ltiauthenticator_login_initiations_total{outcome="refused",reason="not_a_launch"}'
    )
    fetched = 'ltiauthenticator_jwks_fetches_total{result="ok"}'
    before = _samples(hub)
    _, url = emulator.start_launch(user=user)
    assert LaunchClient().launch(url).callback.status_code == 302
    _, bad = emulator.start_launch(Launch(user=user + "x", aud="nobody"))
    assert LaunchClient().launch(bad).callback.status_code == 401
    requests.get(hub.url + "/hub/lti13/oauth_login", timeout=10)
    after = _samples(hub)
    # this test's launches, counted once each (the hub's key cache is fresh per test)
    for sample, count in ((accepted, 1), (refused, 1), (not_a_launch, 1), (fetched, 1)):
        assert after[sample] - before.get(sample, 0) == count, sample
