"""Launches inside the LMS's iframe, with third-party cookies allowed or blocked."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By

from .conftest import hub_user

ALLOW_3P, BLOCK_3P = 0, 1


def callback_outcomes(hub) -> list:
    """The hub's access-log lines for the launch callback: status and redirect target."""
    return re.findall(r"\] (\d{3}) POST /hub/lti13/oauth_callback(?: -> (\S+))?", hub.log_text())


def open_embedded(browser, lms, user, storage=False):
    query = f"user={user}&role=student" + ("&storage=1" if storage else "")
    browser.driver.get(f"{lms.url}/embed?{query}")
    browser.wait_for(lambda d: d.find_element(By.ID, "tool").get_attribute("src"))
    browser.driver.switch_to.frame("tool")


def wait_for_frame_path(browser, path):
    browser.wait_for(
        lambda d: urlsplit(browser.location()).path == path, message=f"frame never reached {path}"
    )


def logged_in_name(browser):
    me = browser.fetch_json("/hub/api/user")
    assert me["status"] == 200, me
    return json.loads(me["body"])["name"]


def test_iframe_launch_with_third_party_cookies_allowed(https_hub, lms, browser_factory, user):
    hub = https_hub(allow_iframe=True)
    browser = browser_factory(cookie_controls_mode=ALLOW_3P)
    open_embedded(browser, lms, user)
    wait_for_frame_path(browser, "/hub/home")
    assert urlsplit(browser.location()).netloc == urlsplit(hub.public_url).netloc
    assert logged_in_name(browser) == f"{user}@example.edu"
    browser.driver.switch_to.default_content()
    browser.screenshot("iframe-3p-allowed")


def test_iframe_launch_with_third_party_cookies_blocked_uses_partitioned_cookies(
    https_hub, lms, browser_factory, user
):
    hub = https_hub(allow_iframe=False)
    browser = browser_factory(cookie_controls_mode=BLOCK_3P)
    open_embedded(browser, lms, user)
    browser.wait_for(lambda d: callback_outcomes(hub), message="no callback reached the hub")
    # the launch went through on the partitioned state and nonce cookies, at once
    assert callback_outcomes(hub) == [("302", "/hub/home")], callback_outcomes(hub)
    assert hub_user(hub, f"{user}@example.edu") is not None
    # without allow_iframe the hub's own pages keep refusing to be framed (CSP 'none'):
    # Chromium shows its error page in the frame
    browser.wait_for(lambda d: browser.location().startswith("chrome-error://"))
    browser.driver.switch_to.default_content()
    browser.screenshot("iframe-3p-blocked-partitioned-no-allow-iframe")


def test_iframe_launch_with_all_cookies_blocked_uses_platform_storage(
    https_hub, lms, browser_factory, user
):
    hub = https_hub(allow_iframe=False)
    # not even partitioned cookies: only the platform's storage can carry state and nonce
    browser = browser_factory(cookie_controls_mode=BLOCK_3P, block_all_cookies=True)
    open_embedded(browser, lms, user, storage=True)
    browser.wait_for(
        lambda d: ("302", "/hub/home") in callback_outcomes(hub) or len(callback_outcomes(hub)) > 1,
        message="the launch did not complete",
    )
    # first the form POST without cookies (answered with the get_data page), then the
    # storage page's POST, verified and redirected (no redirect: findall gives "")
    assert callback_outcomes(hub) == [("200", ""), ("302", "/hub/home")], callback_outcomes(hub)
    assert hub_user(hub, f"{user}@example.edu") is not None
    browser.driver.switch_to.default_content()
    browser.screenshot("iframe-all-cookies-blocked-platform-storage")


def test_hub_usable_inside_the_iframe_with_allow_iframe(https_hub, lms, browser_factory, user):
    hub = https_hub(allow_iframe=True)
    browser = browser_factory(cookie_controls_mode=BLOCK_3P)
    open_embedded(browser, lms, user, storage=True)
    wait_for_frame_path(browser, "/hub/home")
    assert urlsplit(browser.location()).netloc == urlsplit(hub.public_url).netloc
    # the hub's own (partitioned) cookies work in the frame: the student is logged in
    assert logged_in_name(browser) == f"{user}@example.edu"
    assert hub_user(hub, f"{user}@example.edu") is not None
    browser.driver.switch_to.default_content()
    browser.screenshot("iframe-3p-blocked-allow-iframe-hub-home")


def test_readable_page_when_the_browser_keeps_nothing(https_hub, lms, browser_factory, user):
    hub = https_hub(allow_iframe=False)
    browser = browser_factory(cookie_controls_mode=BLOCK_3P, block_all_cookies=True)
    open_embedded(browser, lms, user, storage=False)
    button = browser.wait_for(lambda d: d.find_elements(By.ID, "lti13-open-in-new-window"))[0]
    assert urlsplit(browser.location()).path == "/hub/lti13/oauth_callback"
    text = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "400" in text and "third-party cookies" in text
    assert button.get_attribute("target") == "_blank"
    assert urlsplit(button.get_attribute("href")).path == "/hub/lti13/oauth_login"
    assert [status for status, _ in callback_outcomes(hub)] == ["400"]
    assert "OAuth state missing from cookies" in hub.log_text()
    assert hub_user(hub, f"{user}@example.edu") is None
    browser.driver.switch_to.default_content()
    browser.screenshot("iframe-nothing-stored-readable-page")


def test_allow_iframe_headers_and_cookie_attributes(https_hub, lms):
    import requests

    hub = https_hub(allow_iframe=True)
    response = requests.get(
        hub.url + "/hub/login",
        verify=hub.tls["cert"],
        timeout=10,
        headers={"Sec-Fetch-Mode": "navigate"},
    )
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith(f"frame-ancestors 'self' {lms.url}"), csp
    xsrf = [c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith("_xsrf=")]
    assert xsrf and all(
        "SameSite=None" in c and "Secure" in c and "Partitioned" in c for c in xsrf
    ), xsrf
