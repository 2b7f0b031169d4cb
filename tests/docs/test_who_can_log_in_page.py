"""The "Who can log in" page's claims, checked: its course example against a real hub.

The page's ``check_allowed`` example is taken from the page as it is and loaded into a
real JupyterHub (with the platform emulator as LMS): a launch from a listed course gets
in, a launch from a course not listed is refused with 403. The claim that
``allowed_groups`` restricts nothing is checked on the authenticator itself.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Dict

from traitlets.config import Config

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.platform_emulator import Launch

from ..conftest import render_config
from ..support.client import LaunchClient
from ..support.hub import Hub

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "source" / "topic" / "who-can-log-in.md"


def course_example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```[ \t]*$", PAGE.read_text(), re.M | re.S)
    [example] = [b for b in blocks if "class CourseAuthenticator" in b]
    return example


def launch_into(hub: Hub, emulator, user: str, course: Dict[str, str]) -> Any:
    with emulator.launching_into(hub.url):  # that hub is the emulator's tool for now
        _, url = emulator.start_launch(Launch(user=user, course=course))
        return LaunchClient().launch(url).callback


def test_the_course_example_admits_listed_courses_only(hub_pool, base_auth_config, emulator):
    example = course_example()
    assert '{"course-101", "course-202"}' in example
    hub = hub_pool.get(render_config(base_auth_config) + example)

    listed = {"id": "course-202", "label": "DATA202", "title": "Listed"}
    admitted = launch_into(hub, emulator, "course-in", listed)
    assert admitted.status_code == 302, (admitted.status_code, admitted.text[-800:])
    assert hub.user("course-in@example.edu") is not None

    not_listed = {"id": "course-303", "label": "DATA303", "title": "Not listed"}
    refused = launch_into(hub, emulator, "course-out", not_listed)
    assert refused.status_code == 403, (refused.status_code, refused.text[-800:])
    assert "does not admit this user" in html.unescape(refused.text)
    assert hub.user("course-out@example.edu") is None


def test_allowed_groups_restricts_nobody() -> None:
    config = Config()
    config.Authenticator.allowed_groups = {"data101-learners"}
    config.LTI13Authenticator.allowed_groups = {"data101-learners"}
    authenticator = LTI13Authenticator(config=config)
    assert not hasattr(authenticator, "allowed_groups")
    assert authenticator.allow_all is True
