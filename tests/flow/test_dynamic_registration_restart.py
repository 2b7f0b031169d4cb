"""A dynamic registration outlives the hub process: SQLite on the hub's disk, or PostgreSQL;
another process's change reaches a running hub."""

from __future__ import annotations

import pytest

from tests.conftest import render_config
from tests.support.hub import Hub, free_port
from tests.support.waiting import wait_until

from .test_dynamic_registration import admin_action, new_lms, only_registration, register


@pytest.fixture
def restartable(base_auth_config, tmp_path):
    """Factory: hubs with dynamic registration on the given store, one after the other,
    on one port."""
    port = free_port()
    hubs = []

    def start(name: str, store_url: str, **traits) -> Hub:
        config = {cls: dict(traits) for cls, traits in base_auth_config.items()}
        config["LTI13Authenticator"].update(
            dynamic_registration=True, registration_store_url=store_url, **traits
        )
        hub = Hub(port, tmp_path, render_config(config), name).start()
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.stop()


def test_an_approved_registration_survives_a_restart(restartable, fresh_postgres_url, client, user):
    """On PostgreSQL; SQLite's restart is in the next test."""
    first = restartable("before", fresh_postgres_url)
    lms = new_lms(first.url).start()
    try:
        assert register(first, lms).status_code == 200
        assert admin_action(first, only_registration(first)["id"], "approve").status_code == 200
        first.stop()

        second = restartable("after", fresh_postgres_url)
        assert only_registration(second)["status"] == "active"
        _, url = lms.start_launch(user=user)
        result = client.launch(url)
        assert result.callback.status_code == 302, result.callback.text[-500:]
    finally:
        lms.stop()


def test_a_hub_notices_another_processs_approval_and_keeps_it_after_a_restart(
    restartable, tmp_path, client, user
):
    """The periodic check (``registration_refresh_interval``): no page visit needed. Then
    the approved registration outlives the hub, on SQLite (the default store)."""
    from ltiauthenticator.lti13._registration_store import RegistrationStore

    store_url = f"sqlite:///{tmp_path / 'kept-registrations.sqlite'}"
    hub = restartable("watching", store_url, registration_refresh_interval=0.2)
    lms = new_lms(hub.url).start()
    try:
        assert register(hub, lms).status_code == 200
        other_process = RegistrationStore(store_url)
        other_process.open()
        (row,) = other_process.all()
        hub.begin_test()  # from here on, the log shows what followed the approval
        other_process.update(row.id, status="active", username_prefix="watched-")
        other_process.close()

        def launch_lands() -> bool:
            # a launch reads registrations from memory only: it cannot be what reloads them
            _, url = lms.start_launch(user=user)
            callback = client.launch(url).callback
            return callback is not None and callback.status_code == 302

        # a reload may be under way already (the registration above bumped the store's
        # counter too): the launch is refused until the reload that read the approval
        wait_until(launch_lands, message="the approval never reached the launches")
        assert "stored registrations changed; reloaded" in hub.log_text()

        hub.stop()
        again = restartable("after", store_url)
        assert only_registration(again)["status"] == "active"
        assert launch_lands()
    finally:
        lms.stop()
