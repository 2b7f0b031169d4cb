"""Launches in a top-level window: LMS and hub on different sites, over TLS."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from .conftest import hub_user


@pytest.mark.parametrize(
    "flags",
    [[], ["--enable-features=SameSiteDefaultChecksMethodRigorously"]],
    ids=["default", "samesite-rigorous"],
)
def test_top_level_launch_logs_the_student_in(https_hub, lms, browser_factory, user, flags):
    hub = https_hub()
    browser = browser_factory(extra_args=flags)
    driver = browser.driver

    driver.get(f"{lms.url}/launch?user={user}&role=student")
    browser.wait_for(
        lambda d: urlsplit(d.current_url).path == "/hub/home", message=driver.current_url
    )

    assert urlsplit(driver.current_url).netloc == urlsplit(hub.public_url).netloc
    me = browser.fetch_json("/hub/api/user")
    assert me["status"] == 200, me
    assert json.loads(me["body"])["name"] == f"{user}@example.edu"
    assert hub_user(hub, f"{user}@example.edu") is not None
    browser.screenshot("top-level-" + ("rigorous" if flags else "default"))
