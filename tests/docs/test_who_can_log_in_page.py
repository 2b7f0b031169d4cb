"""The "Who can log in" page's claims, checked: its course example against a real hub.

The page's ``check_allowed`` example is taken from the page as it is and loaded into a
real JupyterHub (with the platform emulator as LMS): a launch from a listed course gets
in, the same launch with the course no longer listed is refused with 403. The claim that
``allowed_groups`` restricts nothing is checked on the authenticator itself.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from traitlets.config import Config

from ltiauthenticator.lti13.auth import LTI13Authenticator

from ..conftest import render_config
from ..support.client import LaunchClient
from ..support.hub import Hub

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "source" / "topic" / "who-can-log-in.md"


def course_example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```[ \t]*$", PAGE.read_text(), re.M | re.S)
    [example] = [b for b in blocks if "class CourseAuthenticator" in b]
    return example


def launch_into(hub: Hub, emulator, user: str) -> Any:
    with emulator.launching_into(hub.url):  # that hub is the emulator's tool for now
        _, url = emulator.start_launch(user=user)
        return LaunchClient().launch(url).callback


def test_the_course_example_admits_listed_courses_only(hub_pool, base_auth_config, emulator):
    example = course_example()
    assert '{"course-101", "course-202"}' in example  # the emulator's course is course-101
    not_listed = example.replace('{"course-101", "course-202"}', '{"course-202"}')
    listing, not_listing = hub_pool.get_all(
        [render_config(base_auth_config) + config for config in (example, not_listed)]
    )

    admitted = launch_into(listing, emulator, "course-in")
    assert admitted.status_code == 302, (admitted.status_code, admitted.text[-800:])
    assert listing.user("course-in@example.edu") is not None

    refused = launch_into(not_listing, emulator, "course-out")
    assert refused.status_code == 403, (refused.status_code, refused.text[-800:])
    assert "does not admit this user" in html.unescape(refused.text)
    assert not_listing.user("course-out@example.edu") is None


def test_allowed_groups_restricts_nobody() -> None:
    config = Config()
    config.Authenticator.allowed_groups = {"data101-learners"}
    config.LTI13Authenticator.allowed_groups = {"data101-learners"}
    authenticator = LTI13Authenticator(config=config)
    assert not hasattr(authenticator, "allowed_groups")
    assert authenticator.allow_all is True
