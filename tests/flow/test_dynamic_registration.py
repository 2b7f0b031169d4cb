"""LTI Dynamic Registration against the real hub and an emulated LMS, over real HTTP.

The LMS (a fresh emulator per test, so its newly registered tool does not disturb the
session's) opens the hub's registration URL; the hub fetches the LMS's OpenID
configuration, registers itself, and stores a *pending* registration that a hub admin
approves before anyone can launch.
"""

from __future__ import annotations

import html
import re
import threading
from typing import Any, Dict, Iterator, List

import pytest
import requests
from sqlalchemy import event

from ltiauthenticator.lti13._dynamic_registration import TOOL_CONFIGURATION

from ..support.emulator import EmulatorServer
from ..support.hub import free_port

REGISTER = "/hub/lti13/register"
ADMIN = "/hub/lti13/registrations"
API = "/hub/lti13/api/registrations"


def new_lms(hub_url: str) -> EmulatorServer:
    return EmulatorServer("127.0.0.1", free_port(), hub_url=hub_url, client_id="unregistered")


@pytest.fixture
def lms(session_hub) -> Iterator[EmulatorServer]:
    """An LMS that does not know the hub yet."""
    server = new_lms(session_hub.url).start()
    yield server
    server.stop()


@pytest.fixture
def dr_config(tmp_path) -> Dict[str, Dict[str, Any]]:
    return {
        "LTI13Authenticator": {
            "dynamic_registration": True,
            "registration_store_url": f"sqlite:///{tmp_path / 'registrations.sqlite'}",
        }
    }


@pytest.fixture
def dr_hub(hub_with, dr_config):
    return hub_with(**dr_config)


def register(hub, lms: EmulatorServer, token: str = "", **params: str) -> requests.Response:
    query = {
        "openid_configuration": f"{lms.url}/openid-configuration",
        "registration_token": token or lms.platform.mint_registration_token(),
        **params,
    }
    return requests.get(hub.url + REGISTER, params=query, timeout=30)


def admin_registrations(hub) -> List[Dict[str, Any]]:
    response = requests.get(
        hub.url + API, headers={"Authorization": f"token {hub.token}"}, timeout=15
    )
    assert response.status_code == 200, response.text
    return response.json()["registrations"]


def admin_action(hub, registration_id: int, action: str, **fields: str) -> requests.Response:
    """A hub admin's review, through the API (an admin service's token)."""
    return requests.post(
        f"{hub.url}{API}/{registration_id}",
        json={"action": action, **fields},
        headers={"Authorization": f"token {hub.token}"},
        timeout=15,
    )


def only_registration(hub) -> Dict[str, Any]:
    (registration,) = admin_registrations(hub)
    return registration


# -- the whole flow -------------------------------------------------------------------------


def test_register_approve_launch(dr_hub, lms, client, user):
    page = register(dr_hub, lms)
    assert page.status_code == 200, page.text
    assert "org.imsglobal.lti.close" in page.text
    assert 'data-status="pending"' in page.text
    registration = only_registration(dr_hub)
    assert registration["status"] == "pending"
    assert registration["issuer"] == lms.platform.issuer
    assert registration["client_id"] == lms.platform.tool.client_id != "unregistered"
    assert registration["deployment_ids"] == [lms.platform.tool.deployment_id]
    assert registration["product_family"] == "moodle"

    _, url = lms.start_launch(user=user)
    refused = client.launch(url)
    assert refused.login.status_code == 403
    assert "not approved the registration yet" in refused.login.text

    assert admin_action(dr_hub, registration["id"], "approve").status_code == 200
    _, url = lms.start_launch(user=user)
    result = client.launch(url)
    assert result.callback.status_code == 302, result.callback.text[-500:]
    # the launch pages may be framed by this platform (named once the launch is resolved)
    for response in (result.login, result.callback):
        assert lms.url in response.headers["Content-Security-Policy"]
    # the configured platform owns the unprefixed namespace: this one gets its own
    prefix = only_registration(dr_hub)["username_prefix"]
    assert prefix == f"{registration['name']}-"
    assert dr_hub.user(f"{prefix}{user}@example.edu") is not None


def test_the_hub_asks_for_what_it_uses_and_sends_the_token(dr_hub, lms):
    assert register(dr_hub, lms).status_code == 200
    (sent,) = lms.platform.registration_requests
    assert sent["initiate_login_uri"] == f"{dr_hub.url}/hub/lti13/oauth_login"
    assert sent["redirect_uris"] == [f"{dr_hub.url}/hub/lti13/oauth_callback"]
    assert sent["jwks_uri"] == f"{dr_hub.url}/hub/lti13/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert sent["scope"] == ""  # grades are off: no service scopes
    tool = sent[TOOL_CONFIGURATION]
    assert tool["claims"] == ["iss", "sub", "email"]  # the default username_key
    assert [m["type"] for m in tool["messages"]] == [
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    ]
    assert lms.platform.configuration_requests[-1]["bearer"] is True


def test_grades_on_asks_for_the_service_scopes(hub_with, dr_config, lms):
    dr_config["LTI13Authenticator"]["enable_grades"] = True
    hub = hub_with(**dr_config)
    assert register(hub, lms).status_code == 200
    (sent,) = lms.platform.registration_requests
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()


def test_auto_approved_host_launches_at_once(hub_with, dr_config, lms, client, user):
    dr_config["LTI13Authenticator"]["dynamic_registration_auto_approve"] = {"127.0.0.1"}
    hub = hub_with(**dr_config)
    page = register(hub, lms)
    assert 'data-status="active"' in page.text
    _, url = lms.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302


def test_a_disabled_registration_cannot_launch(dr_hub, lms, client, user):
    register(dr_hub, lms)
    registration_id = only_registration(dr_hub)["id"]
    admin_action(dr_hub, registration_id, "approve")
    assert admin_action(dr_hub, registration_id, "disable").status_code == 200
    _, url = lms.start_launch(user=user)
    refused = client.launch(url)
    assert refused.login.status_code == 403
    assert "disabled the registration" in refused.login.text


# -- refusals -------------------------------------------------------------------------------


def test_unknown_used_and_expired_tokens_are_refused(dr_hub, lms):
    unknown = register(dr_hub, lms, token="made-up")
    assert unknown.status_code == 400
    assert "refused the registration token" in unknown.text

    expired = lms.platform.mint_registration_token(ttl=-1)
    assert register(dr_hub, lms, token=expired).status_code == 400

    token = lms.platform.mint_registration_token()
    assert register(dr_hub, lms, token=token).status_code == 200
    admin_action(dr_hub, only_registration(dr_hub)["id"], "delete")
    reused = register(dr_hub, lms, token=token)
    assert reused.status_code == 400
    assert "refused the registration token" in reused.text
    assert admin_registrations(dr_hub) == []


def test_an_issuer_on_another_host_is_refused(dr_hub, emulator):
    # the session's LMS serves on 127.0.0.1 but names itself http://localhost:<port>
    port = emulator.url.rsplit(":", 1)[1]
    response = requests.get(
        dr_hub.url + REGISTER,
        params={
            "openid_configuration": f"http://127.0.0.1:{port}/openid-configuration",
            "registration_token": emulator.platform.mint_registration_token(),
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert "issuer is not on the host" in response.text
    assert emulator.platform.registration_requests == []  # refused before registering


def test_a_second_registration_of_the_same_lms_is_refused(dr_hub, lms):
    assert register(dr_hub, lms).status_code == 200
    again = register(dr_hub, lms)
    assert again.status_code == 409
    assert "already registered" in again.text
    assert len(lms.platform.registration_requests) == 1  # the LMS was not asked twice


@pytest.mark.parametrize(
    "url",
    [
        "http://lms.example.edu/openid-configuration",
        "ftp://127.0.0.1/x",
        "https://user:pw@lms.example.edu/openid-configuration",
        "not a url",
        "http://[::1",
        "https://lms.example.edu:port/x",
        "https://" + "a" * 3000 + ".example.edu/",
    ],
)
def test_configuration_urls_the_hub_will_not_fetch(dr_hub, url):
    response = requests.get(dr_hub.url + REGISTER, params={"openid_configuration": url}, timeout=15)
    assert response.status_code == 400
    assert "must be an https URL" in response.text or "too long" in response.text


@pytest.mark.parametrize("token", ["a\r\nX-Injected: 1", "tök", "two words"])
def test_tokens_that_cannot_be_a_header_are_refused(dr_hub, lms, token):
    response = register(dr_hub, lms, token=token)
    assert response.status_code == 400
    assert "characters no token can have" in response.text
    assert lms.platform.configuration_requests == []


def test_a_registration_url_opened_without_the_lms(dr_hub):
    response = requests.get(dr_hub.url + REGISTER, timeout=15)
    assert response.status_code == 400
    assert "no openid_configuration parameter" in response.text


def test_dynamic_registration_is_off_by_default(hub, lms):
    response = register(hub, lms)
    assert response.status_code == 403
    assert "does not accept dynamic registrations" in response.text
    assert lms.platform.configuration_requests == []


def test_hosts_outside_the_allowlist_are_not_contacted(hub_with, dr_config, lms):
    dr_config["LTI13Authenticator"]["dynamic_registration_allowed_hosts"] = {"lms.example.edu"}
    hub = hub_with(**dr_config)
    response = register(hub, lms)
    assert response.status_code == 400
    assert "does not accept registrations from 127.0.0.1" in response.text
    assert lms.platform.configuration_requests == []


def test_pending_registrations_are_bounded(hub_with, dr_config, lms, session_hub):
    dr_config["LTI13Authenticator"]["dynamic_registration_max_pending"] = 1
    hub = hub_with(**dr_config)
    assert register(hub, lms).status_code == 200
    other = new_lms(session_hub.url).start()
    try:
        response = register(hub, other)
    finally:
        other.stop()
    assert response.status_code == 503
    assert "waiting for a hub admin" in response.text


def test_the_token_never_reaches_the_log(dr_hub, lms):
    token = lms.platform.mint_registration_token()
    register(dr_hub, lms, token=token)
    register(dr_hub, lms, token=token)  # refused: logged as a refusal
    assert token not in dr_hub.log_text()


# -- the admin page ---------------------------------------------------------------------------


def test_only_admins_see_the_registrations(dr_hub, lms):
    register(dr_hub, lms)
    anonymous = requests.get(dr_hub.url + ADMIN, timeout=15)
    assert anonymous.status_code == 403
    assert "Log in to the hub as an admin" in anonymous.text
    assert requests.get(dr_hub.url + API, timeout=15).status_code == 403


@pytest.fixture
def admin_hub(hub_with, dr_config, emulator, client, user):
    """The hub with dynamic registration, and ``client`` logged in as a hub admin."""
    dr_config["LTI13Authenticator"]["admin_users"] = {f"{user}@example.edu"}
    hub = hub_with(**dr_config)
    _, url = emulator.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302
    assert hub.user(f"{user}@example.edu")["admin"] is True
    return hub


def test_an_admin_approves_on_the_page(admin_hub, lms, client):
    dr_hub = admin_hub
    register(dr_hub, lms)
    page = client.session.get(dr_hub.url + ADMIN, timeout=15)
    assert page.status_code == 200
    assert lms.platform.issuer in page.text
    assert 'data-status="pending"' in page.text
    registration_id = only_registration(dr_hub)["id"]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    approved = client.session.post(
        f"{dr_hub.url}{ADMIN}/{registration_id}",
        data={"_xsrf": xsrf, "action": "approve", "username_prefix": "page-"},
        allow_redirects=False,
        timeout=15,
    )
    assert approved.status_code == 303
    assert only_registration(dr_hub)["username_prefix"] == "page-"
    assert only_registration(dr_hub)["status"] == "active"


def test_an_admin_form_without_xsrf_is_refused(admin_hub, lms, client):
    """A page on another site cannot make the admin's browser approve a registration."""
    dr_hub = admin_hub
    register(dr_hub, lms)
    forged = client.session.post(
        f"{dr_hub.url}{ADMIN}/{only_registration(dr_hub)['id']}",
        data={"action": "approve"},
        allow_redirects=False,
        timeout=15,
    )
    assert forged.status_code == 403
    assert only_registration(dr_hub)["status"] == "pending"


def test_a_non_admin_cannot_review(dr_hub, lms, emulator, client, user):
    register(dr_hub, lms)
    _, url = emulator.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302
    page = client.session.get(dr_hub.url + ADMIN, timeout=15)
    assert page.status_code == 403
    assert "is not a hub admin" in page.text


def test_a_namespace_another_platform_owns_is_refused(dr_hub, lms):
    register(dr_hub, lms)
    registration_id = only_registration(dr_hub)["id"]
    refused = admin_action(dr_hub, registration_id, "approve", username_prefix="")
    assert refused.status_code == 400
    assert "already used by" in refused.json()["message"]
    assert only_registration(dr_hub)["status"] == "pending"


def test_unknown_actions_and_registrations(dr_hub, lms):
    register(dr_hub, lms)
    registration_id = only_registration(dr_hub)["id"]
    promote = admin_action(dr_hub, registration_id, "promote")
    assert promote.status_code == 400
    assert "use approve, enable, disable or delete" in promote.json()["message"]
    for missing in (registration_id + 1000, 10**30):
        gone = admin_action(dr_hub, missing, "approve")
        assert gone.status_code == 400
        assert "There is no registration" in gone.json()["message"]


# -- the store behind it ------------------------------------------------------------------------


def test_launches_make_no_database_call(dr_hub, lms, client, user):
    register(dr_hub, lms)
    admin_action(dr_hub, only_registration(dr_hub)["id"], "approve")
    engine = dr_hub.call(lambda: dr_hub.authenticator.registration_sources.store.engine)
    statements: List[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            _, url = lms.start_launch(user=user)
            assert client.launch(url).callback.status_code == 302
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []


def test_concurrent_registrations_all_land(dr_hub, session_hub):
    lmss = [new_lms(session_hub.url).start() for _ in range(4)]
    answers: List[int] = []
    try:
        threads = [
            threading.Thread(
                target=lambda lms=lms: answers.append(register(dr_hub, lms).status_code)
            )
            for lms in lmss
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        stored = admin_registrations(dr_hub)
    finally:
        for lms in lmss:
            lms.stop()
    assert answers == [200] * 4
    assert sorted(r["issuer"] for r in stored) == sorted(lms.platform.issuer for lms in lmss)
    assert len({r["name"] for r in stored}) == 4
    assert {r["client_id"] for r in stored} == {lms.platform.tool.client_id for lms in lmss}


def test_a_public_hub_does_not_fetch_from_its_own_machine(dr_hub, lms):
    """Plain http to loopback is for development: a hub reached by a public name (here
    through its Host header) must not be made to probe its own machine's ports."""
    response = requests.get(
        dr_hub.url + REGISTER,
        params={"openid_configuration": f"{lms.url}/openid-configuration"},
        headers={"Host": "hub.example.edu"},
        timeout=15,
    )
    assert response.status_code == 400
    assert "points at the hub's own machine" in html.unescape(response.text)
    assert lms.platform.configuration_requests == []


def test_a_broken_store_is_a_clear_503(dr_hub, lms):
    engine = dr_hub.call(lambda: dr_hub.authenticator.registration_sources.store.engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE lti_registrations")
    response = register(dr_hub, lms)
    assert response.status_code == 503
    assert "registration store could not be used" in html.unescape(response.text)
    listing = requests.get(
        dr_hub.url + API, headers={"Authorization": f"token {dr_hub.token}"}, timeout=15
    )
    # nothing changed the store's generation: the page lists the copy in memory
    assert listing.status_code == 200


def test_changes_made_by_another_process_are_picked_up(dr_hub, dr_config, lms, client, user):
    """A second hub process (or a script) approving a registration in the shared store."""
    from ltiauthenticator.lti13._registration_store import RegistrationStore

    register(dr_hub, lms)
    registration_id = only_registration(dr_hub)["id"]
    other_process = RegistrationStore(dr_config["LTI13Authenticator"]["registration_store_url"])
    other_process.open()
    try:
        other_process.update(registration_id, status="active", username_prefix="elsewhere-")
    finally:
        other_process.close()
    assert dr_hub.call(lambda: dr_hub.authenticator.registry.by_id("127.0.0.1")) is None
    assert only_registration(dr_hub)["status"] == "active"  # listing checks the store
    _, url = lms.start_launch(user=user)
    assert client.launch(url).callback.status_code == 302
    assert dr_hub.user(f"elsewhere-{user}@example.edu") is not None
