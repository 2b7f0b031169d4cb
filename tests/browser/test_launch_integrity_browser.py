"""Launch integrity in a real Chromium (issue 9): a victim's browser ends logged in as
itself or not at all; two tool links on one course page both land."""

from __future__ import annotations

import http.server
import json
import re
import ssl
import threading
from html import escape
from typing import Dict, Iterator, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from ..support.client import parse_form
from ..support.hub import free_port
from .conftest import hub_user

FRAME = "post_message_forwarding"


def _page_config(page: str) -> Dict:
    match = re.search(r"id='lti-storage-config'>(.*?)</script>", page, re.S)
    assert match, page[:1500]
    return json.loads(match.group(1))


def _by_ip(url: str) -> str:
    """The same URL on 127.0.0.1: this test process cannot resolve lms.test / hub.test."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{parts.port}", parts.path, parts.query, ""))


def mallorys_parked_launch(hub, lms, user: str) -> Tuple[str, Dict[str, str]]:
    """Mallory, in her own browser (plain HTTP here), parks a genuine launch of her own.

    Returns the hub's callback URL and the fields her evil page will make a victim post.
    """
    session = requests.Session()
    verify = hub.tls["cert"]
    host = {"Host": urlsplit(hub.public_url).netloc}
    _, login_url = lms.platform.start_launch(user=f"mallory{user}", storage_target=FRAME)
    login = session.get(
        _by_ip(login_url), headers=host, allow_redirects=False, timeout=10, verify=verify
    )
    assert login.status_code == 200, login.text[-500:]
    config = _page_config(login.text)
    kept = dict(config["items"])
    authorization = session.get(_by_ip(config["next"]), timeout=10, verify=verify)
    action, form = parse_form(authorization.text, authorization.url)
    first = requests.post(  # without her cookies: the hub asks the platform's storage
        _by_ip(action), data=form, headers=host, verify=verify, timeout=10
    )
    ask = _page_config(first.text)
    state_key, nonce_key = ask["keys"]
    fields = ask["fields"]
    return action, {
        fields["ticket"]: ask["ticket"],
        fields["state"]: kept[state_key],
        fields["nonce_state"]: kept[nonce_key],
    }


@pytest.fixture
def evil_site(tls) -> Iterator:
    """An https page on another site (``localhost``) that serves whatever HTML it is given."""
    pages: Dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls["cert"], tls["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(path: str, html: str) -> str:
        pages[path] = html
        return f"https://localhost:{port}{path}"

    yield publish
    server.shutdown()


def auto_post_page(action: str, fields: Dict[str, str]) -> str:
    inputs = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )
    return (
        f"<!doctype html><form id='f' method='post' action='{escape(action)}'>{inputs}</form>"
        "<script>document.getElementById('f').submit()</script>"
    )


def current_hub_user(browser, hub):
    browser.driver.get(hub.public_url + "/hub/home")
    me = browser.fetch_json("/hub/api/user")
    return json.loads(me["body"])["name"] if me["status"] == 200 else None


def test_login_csrf_through_a_parked_launch_fails_in_a_real_browser(
    https_hub, lms, browser_factory, evil_site, user
):
    hub = https_hub()
    browser = browser_factory()
    # the victim is logged in as themselves, from a normal launch
    browser.driver.get(f"{lms.url}/launch?user={user}&role=student")
    browser.wait_for(lambda d: urlsplit(d.current_url).path == "/hub/home")
    assert current_hub_user(browser, hub) == f"{user}@example.edu"

    action, fields = mallorys_parked_launch(hub, lms, user)
    browser.driver.get(evil_site("/win-a-prize", auto_post_page(action, fields)))
    browser.wait_for(lambda d: urlsplit(d.current_url).path == "/hub/lti13/oauth_callback")
    text = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "400" in text and "own sign-in page" in text
    browser.screenshot("login-csrf-refused")

    assert current_hub_user(browser, hub) == f"{user}@example.edu"  # still themselves
    assert hub_user(hub, f"mallory{user}@example.edu") is None


def test_login_csrf_leaves_a_fresh_browser_logged_out(
    https_hub, lms, browser_factory, evil_site, user
):
    hub = https_hub()
    browser = browser_factory()
    action, fields = mallorys_parked_launch(hub, lms, user)
    browser.driver.get(evil_site("/free-notebooks", auto_post_page(action, fields)))
    browser.wait_for(lambda d: urlsplit(d.current_url).path == "/hub/lti13/oauth_callback")
    assert current_hub_user(browser, hub) is None
    assert hub_user(hub, f"mallory{user}@example.edu") is None


def test_two_tool_links_on_one_course_page_both_land(https_hub, lms, browser_factory, user):
    hub = https_hub(allow_iframe=True)
    browser = browser_factory()
    browser.driver.get(f"{lms.url}/embed?user={user}&role=student&links=2")
    for frame in ("tool", "tool2"):
        browser.driver.switch_to.default_content()
        browser.wait_for(lambda d, f=frame: d.find_element(By.ID, f).get_attribute("src"))
        browser.driver.switch_to.frame(frame)
        browser.wait_for(
            lambda d: urlsplit(browser.location()).path == "/hub/home",
            message=f"{frame} never reached /hub/home",
        )
    outcomes = re.findall(r"\] (\d{3}) POST /hub/lti13/oauth_callback", hub.log_text())
    assert outcomes.count("302") >= 2 and "400" not in outcomes, outcomes
    browser.driver.switch_to.default_content()
    browser.screenshot("two-embedded-launches")
    assert hub_user(hub, f"{user}@example.edu") is not None


def test_over_https_launch_cookies_are_host_only(https_hub, lms, user):
    """``__Host-`` cookies: a sibling host under the same domain cannot plant them."""
    hub = https_hub()
    _, login_url = lms.platform.start_launch(user=user)
    response = requests.get(
        _by_ip(login_url),
        headers={"Host": urlsplit(hub.public_url).netloc},
        allow_redirects=False,
        verify=hub.tls["cert"],
        timeout=10,
    )
    assert response.status_code == 302
    cookies = [c for c in response.raw.headers.getlist("Set-Cookie") if "lti13" in c]
    assert len(cookies) == 2, cookies
    for cookie in cookies:
        assert cookie.startswith("__Host-lti13-"), cookie
        attributes = [part.strip() for part in cookie.split(";")]
        assert "Path=/" in attributes and "Secure" in attributes
        assert not any(a.lower().startswith("domain=") for a in attributes)
