"""The test hubs themselves: the in-process hub's per-test configuration (applied for one
test, then undone), and a hub process that loses a port race."""

from __future__ import annotations

import pytest

from ltiauthenticator._localhub import free_port, port_is_free
from tests.conftest import render_config
from tests.support.hub import Hub
from tests.support.threaded import ForeignProxyAPI, serving


def test_overrides_apply_and_are_undone(session_hub, emulator):
    auth = session_hub.authenticator
    before = (auth.username_key, auth.validator.time_leeway, auth.key_cache, auth.registry)
    undo = session_hub.override(
        {
            "LTI13Authenticator": {"username_key": "given_name", "client_id": "a-string"},
            "LTI13LaunchValidator": {"time_leeway": 30},
            "JWKSCache": {"min_ttl": 1.0},
        }
    )
    assert auth.username_key == "given_name" and auth.client_id == {"a-string"}
    assert auth.validator.time_leeway == 30
    assert auth.key_cache is auth.validator.key_cache is not before[2]
    assert auth.key_cache.min_ttl == 1.0
    assert auth.registry.registrations[0].client_ids == {"a-string"}  # rebuilt
    undo()
    assert (auth.username_key, auth.validator.time_leeway, auth.key_cache) == before[:3]
    assert auth.registry.registrations == before[3].registrations


def test_a_configuration_the_hub_would_refuse_is_refused_and_undone(session_hub):
    auth = session_hub.authenticator
    issuer = auth.issuer
    with pytest.raises(ValueError, match="jwks_endpoint is not set"):
        session_hub.override({"LTI13Authenticator": {"jwks_endpoint": ""}})
    assert auth.issuer == issuer and auth.jwks_endpoint
    with pytest.raises(AttributeError, match="no trait 'no_such_trait'"):
        session_hub.override({"LTI13Authenticator": {"no_such_trait": 1}})


def test_allowed_users_recompute_allow_all_and_restore_it(session_hub):
    auth = session_hub.authenticator
    if not auth.has_trait("allow_all"):  # JupyterHub 4: no allow_all to keep in step
        undo = session_hub.override({"Authenticator": {"allowed_users": {"x"}}})
        assert auth.allowed_users == {"x"}
        undo()
        assert auth.allowed_users == set()
        return
    assert auth.allow_all is True
    undo = session_hub.override({"Authenticator": {"allowed_users": {"someone"}}})
    assert auth.allow_all is False
    undo()
    assert auth.allow_all is True and auth.allowed_users == set()


def test_log_text_holds_only_this_tests_records(hub, client):
    assert "GET /hub/lti13/config" not in hub.log_text()
    client.session.get(hub.url + "/hub/lti13/config", timeout=10)
    assert hub.log_text().count("GET /hub/lti13/config") == 1


def test_a_hub_process_whose_proxy_port_was_taken_starts_again(tmp_path, base_auth_config):
    """The port picked for the proxy's API is taken by another hub's proxy before the
    proxy listens: the hub exits at start-up, and starts again on other ports."""

    class RacedHub(Hub):
        launches = 0

        def config_text(self) -> str:
            RacedHub.launches += 1
            taken = f'c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{port}"\n'
            return super().config_text() + (taken if self.launches == 1 else "")

    with serving(ForeignProxyAPI) as (port, _):
        hub = RacedHub(free_port(), tmp_path, render_config(base_auth_config), "raced")
        try:
            hub.start()
            assert hub.api("GET", "/").status_code == 200
        finally:
            hub.stop()
    assert RacedHub.launches == 2
    assert port_is_free(hub.port)  # the first proxy, on the hub's public port, is gone
