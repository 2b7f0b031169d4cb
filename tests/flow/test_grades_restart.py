"""A hub restart between the launch and the grade post: the launch's service URLs come
back from the encrypted auth_state in the hub's database."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import merged, render_config
from tests.support.hub import GRADER_HUB_CONFIG, Hub, free_port

from .grades_support import gradebook, grades_api, grades_config, launch, new_course


class PersistentHub(Hub):
    """A hub whose database and encryption key outlive its process."""

    crypt_key = secrets.token_hex(32)

    def config_text(self) -> str:
        # after the base lines: the database file is not the one Hub.stop deletes
        return super().config_text() + 'c.JupyterHub.db_url = "sqlite:///kept.sqlite"\n'

    def environment(self):
        return {**super().environment(), "JUPYTERHUB_CRYPT_KEY": self.crypt_key}


@pytest.fixture
def restartable(base_auth_config, emulator, tmp_path):
    config = merged(merged(base_auth_config, GRADER_HUB_CONFIG), grades_config(emulator))
    port = free_port()  # both hubs, one after the other, on a port of this test's own
    hubs = []

    def start(name: str) -> PersistentHub:
        hub = PersistentHub(port, tmp_path, render_config(config), name).start()
        hubs.append(hub)
        return hub

    with emulator.launching_into(f"http://127.0.0.1:{port}"):  # the emulator's tool, for now
        yield start
    for hub in hubs:
        hub.stop()


def test_grade_posted_after_a_hub_restart(restartable, emulator, client, user):
    course = new_course()
    first = restartable("before")
    student = launch(emulator, client, user, course)
    first.stop()

    second = restartable("after")
    response = grades_api(
        second,
        second.token,
        "POST",
        "grades/scores",
        json={"username": student, "resource_link_id": "nb-1", "scoreGiven": 5, "scoreMaximum": 5},
    )

    assert response.status_code == 200, response.text
    assert [r["user_id"] for r in gradebook(emulator, course)] == [f"sub-{user}"]
    # the new process did not see the launch: everything came from the database
    assert "oauth_callback" not in second.log_text()
