"""The deep linking picker inside the LMS iframe, in a real Chromium.

The hub runs without ``allow_iframe``: its own pages (and its login cookie) are not
usable in the frame. The picker still works, because it is part of the launch: it is
the callback's own response (which the platforms may frame) and its form carries a
single-use token instead of relying on the hub's cookie.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ltiauthenticator.platform_emulator.deep_linking import record_of

ALLOW_3P, BLOCK_3P = 0, 1


@pytest.mark.parametrize(
    "cookies",
    [
        {"cookie_controls_mode": ALLOW_3P},
        {"cookie_controls_mode": BLOCK_3P},
        {"cookie_controls_mode": BLOCK_3P, "block_all_cookies": True},
    ],
    ids=["3p-allowed", "3p-blocked", "all-blocked-platform-storage"],
)
def test_picker_works_inside_the_lms_iframe(https_hub, lms, tls, browser_factory, user, cookies):
    hub = https_hub(allow_iframe=False)
    record = record_of(lms.platform)
    # the LMS fetches the tool's keys from the hub by IP (it cannot resolve hub.test)
    record.tool_jwks_url = hub.url + "/hub/lti13/jwks"
    record.ca_certs = tls["cert"]
    links_before = len(record.links)
    browser = browser_factory(**cookies)

    query = f"user={user}&role=instructor&message_type=LtiDeepLinkingRequest&storage=1"
    browser.driver.get(f"{lms.url}/embed?{query}")
    browser.wait_for(lambda d: d.find_element(By.ID, "tool").get_attribute("src"))
    browser.driver.switch_to.frame("tool")
    browser.wait_for(
        lambda d: d.find_elements(By.ID, "lti13-picker"), message="the picker never showed"
    )
    assert urlsplit(browser.location()).path == "/hub/lti13/oauth_callback"
    browser.screenshot(f"deep-linking-picker-{'-'.join(map(str, cookies.values()))}")

    # keyboard only: focusing a destination's field selects it; Enter submits the form
    repo = browser.driver.find_element(By.ID, "repo")
    repo.send_keys("https://example.org/org/course.git")
    browser.driver.find_element(By.ID, "repo_path").send_keys("week1/intro.ipynb")
    assert browser.driver.find_element(By.ID, "kind-nbgitpuller").is_selected()
    preview = browser.driver.find_element(By.ID, "nbgitpuller-preview").text
    assert preview.startswith("/hub/user-redirect/git-pull?repo=https%3A%2F%2Fexample.org")
    title = browser.driver.find_element(By.ID, "title")
    title.send_keys("Week 1")
    title.send_keys(Keys.ENTER)

    browser.wait_for(
        lambda d: d.find_elements(By.ID, "result") or d.find_elements(By.ID, "error"),
        message="the response never reached the LMS",
    )
    assert urlsplit(browser.location()).path == "/deep_link_return"
    assert browser.driver.find_elements(By.ID, "result"), record.errors[-1:]
    assert len(record.links) == links_before + 1
    link = record.links[-1]
    assert link.title == "Week 1"
    next_path = parse_qs(urlsplit(link.url).query)["next"][0]
    assert next_path == link.custom["next"]
    urlpath = parse_qs(urlsplit(next_path).query)["urlpath"]
    assert urlpath == ["lab/tree/course.git/week1/intro.ipynb"]

    browser.driver.switch_to.default_content()
    browser.driver.get(lms.url + "/")
    assert "Week 1" in browser.driver.find_element(By.ID, "created-links").text
