"""The emulator's "add a tool by URL" page in a real Chromium, with a small fake tool.

The fake tool (a tornado app on another origin) does what a tool's registration page
does: its server reads the platform's OpenID configuration and registers with the token
it was given, and its page posts ``{subject: "org.imsglobal.lti.close"}`` to the
platform's page (its parent, or its opener in a new window) when "Done" is pressed.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, Iterator, List

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from tornado import web
from tornado.httpclient import AsyncHTTPClient

from ..support.emulator import EmulatorServer
from ..support.hub import free_port
from ..support.threaded import ThreadedApp

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

_DONE_BUTTON = """
<button type="button" id="finish">Done</button>
<script>
document.getElementById("finish").addEventListener("click", function () {
  (window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*");
});
</script>
"""


class _ToolRegistrationPage(web.RequestHandler):
    """What a tool's registration URL does: register server-side, then offer "Done"."""

    async def get(self) -> None:
        tool: FakeTool = self.settings["tool"]
        token = self.get_argument("registration_token")
        auth = {"Authorization": f"Bearer {token}"}
        client = AsyncHTTPClient()
        response = await client.fetch(self.get_argument("openid_configuration"), headers=auth)
        platform = json.loads(response.body)
        answer = await client.fetch(
            platform["registration_endpoint"],
            method="POST",
            headers={**auth, "Content-Type": "application/json"},
            body=json.dumps(tool.registration()),
        )
        tool.answers.append(json.loads(answer.body))
        client_id = tool.answers[-1]["client_id"]
        self.finish(
            "<!doctype html><title>Fake tool</title>"
            f"<p id='registered'>Registered as client {html.escape(client_id)}</p>" + _DONE_BUTTON
        )


class _StrayPage(web.RequestHandler):
    """A page of the same origin that is not the registration page: its "Done" must not count."""

    def get(self) -> None:
        self.finish(
            "<!doctype html><title>Stray</title><p id='stray'>Stray page</p>" + _DONE_BUTTON
        )


class FakeTool(ThreadedApp):
    """The fake tool's web app, on ``http://localhost:<port>`` (the LMS is on 127.0.0.1)."""

    def __init__(self) -> None:
        super().__init__(free_port(), "the fake tool")
        self.url = f"http://localhost:{self.port}"
        self.answers: List[Dict[str, Any]] = []

    def registration(self) -> Dict[str, Any]:
        return {
            "application_type": "web",
            "response_types": ["id_token"],
            "grant_types": ["implicit", "client_credentials"],
            "initiate_login_uri": f"{self.url}/login",
            "redirect_uris": [f"{self.url}/launch"],
            "client_name": "Fake tool",
            "jwks_uri": f"{self.url}/jwks",
            "token_endpoint_auth_method": "private_key_jwt",
            TOOL_CONFIGURATION: {
                "domain": f"localhost:{self.port}",
                "target_link_uri": f"{self.url}/",
                "messages": [{"type": "LtiResourceLinkRequest"}],
            },
        }

    def make_app(self) -> web.Application:
        return web.Application(
            [(r"/register", _ToolRegistrationPage), (r"/stray", _StrayPage)], tool=self
        )


@pytest.fixture
def fake_tool() -> Iterator[FakeTool]:
    tool = FakeTool().start()
    yield tool
    tool.stop()


@pytest.fixture
def plain_lms() -> Iterator[EmulatorServer]:
    """An LMS of this test's own (a registration changes its tool), over plain http."""
    server = EmulatorServer("127.0.0.1", free_port(), hub_url="http://hub.invalid")
    server.start()
    yield server
    server.stop()


def paste_url(browser: Any, lms: EmulatorServer, url: str, new_window: bool) -> str:
    """From the course page, as an administrator: add the tool by URL. The LMS's window."""
    browser.driver.get(lms.url + "/")
    browser.driver.find_element(By.ID, "add-tool-by-url").click()
    browser.wait_for(lambda d: d.find_elements(By.ID, "tool-url"))
    browser.driver.find_element(By.ID, "tool-url").send_keys(url)
    if new_window:
        browser.driver.find_element(By.ID, "new-window").click()
    browser.driver.find_element(By.ID, "register").click()
    browser.wait_for(lambda d: d.find_elements(By.ID, "dr-status"))
    return browser.driver.current_window_handle


def enter_tool_page(browser: Any, lms_window: str, new_window: bool) -> None:
    """Switch to the tool's registration page, once its server has registered."""
    if new_window:
        browser.wait_for(lambda d: len(d.window_handles) == 2, message="no window was opened")
        other = next(h for h in browser.driver.window_handles if h != lms_window)
        browser.driver.switch_to.window(other)
    else:
        browser.wait_for(lambda d: d.find_elements(By.ID, "tool-registration"))
        browser.driver.switch_to.frame("tool-registration")
    browser.wait_for(
        lambda d: d.find_elements(By.ID, "registered"), message="the tool did not register"
    )


def back_to_lms(browser: Any, lms_window: str) -> None:
    browser.driver.switch_to.window(lms_window)
    browser.driver.switch_to.default_content()


def press_done(browser: Any) -> None:
    """Click the tool page's "Done". The close message may reach the LMS, and the LMS remove
    the frame or close the window, before chromedriver has answered the click: then the
    click fails with the frame or window gone, and the tests check that the LMS closed it."""
    try:
        browser.driver.find_element(By.ID, "finish").click()
    except WebDriverException as e:
        if not any(gone in e.msg for gone in GONE):
            raise


#: What chromedriver says when the page it clicked in went away meanwhile.
GONE = ("target frame detached", "no such window", "target window already closed")


def status(browser: Any) -> str:
    return browser.driver.find_element(By.ID, "dr-status").text


@pytest.mark.parametrize("new_window", [False, True], ids=["iframe", "window"])
def test_the_tool_closes_the_registration_when_done(
    browser_factory, plain_lms, fake_tool, new_window
):
    browser = browser_factory()
    lms_window = paste_url(browser, plain_lms, f"{fake_tool.url}/register", new_window)
    assert status(browser) == "waiting"
    enter_tool_page(browser, lms_window, new_window)
    [answer] = fake_tool.answers
    assert plain_lms.platform.tool.client_id == answer["client_id"]

    press_done(browser)
    back_to_lms(browser, lms_window)
    browser.wait_for(lambda d: status(browser) == "closed", message="the page did not close")
    message = browser.driver.find_element(By.ID, "dr-message").text
    assert "finished registering" in message
    if new_window:
        browser.wait_for(lambda d: d.window_handles == [lms_window], message="window stays")
    else:
        assert not browser.driver.find_elements(By.ID, "tool-registration")
    browser.screenshot(f"dynamic-registration-{'window' if new_window else 'iframe'}-closed")

    browser.driver.find_element(By.ID, "back-to-course").click()
    listed = browser.wait_for(lambda d: d.find_elements(By.ID, "registered-tools"))[0].text
    assert "Fake tool" in listed and answer["client_id"] in listed
    deployment = answer[TOOL_CONFIGURATION]["deployment_id"]
    assert plain_lms.platform.tool.deployment_id == deployment


@pytest.mark.parametrize("new_window", [False, True], ids=["iframe", "window"])
def test_a_close_message_from_another_page_is_ignored(
    browser_factory, plain_lms, fake_tool, new_window
):
    browser = browser_factory()
    lms_window = paste_url(browser, plain_lms, f"{fake_tool.url}/register", new_window)
    enter_tool_page(browser, lms_window, new_window)
    back_to_lms(browser, lms_window)
    # a second frame on the LMS page, from the tool's very origin, says it is done
    browser.driver.execute_script(
        "var f = document.createElement('iframe'); f.id = 'stray'; f.src = arguments[0];"
        "document.body.appendChild(f);",
        f"{fake_tool.url}/stray",
    )
    browser.driver.switch_to.frame("stray")
    browser.wait_for(lambda d: d.find_elements(By.ID, "finish"))
    browser.driver.find_element(By.ID, "finish").click()
    back_to_lms(browser, lms_window)
    browser.wait_for(
        lambda d: "Ignored 1 " in d.find_element(By.ID, "dr-ignored").text,
        message="the stray message was not seen",
    )
    assert status(browser) == "waiting"
    browser.screenshot(f"dynamic-registration-{'window' if new_window else 'iframe'}-stray-ignored")
    if new_window:
        assert len(browser.driver.window_handles) == 2
    else:
        assert browser.driver.find_elements(By.ID, "tool-registration")

    # the tool's own page still can
    enter_tool_page(browser, lms_window, new_window)
    press_done(browser)
    back_to_lms(browser, lms_window)
    browser.wait_for(lambda d: status(browser) == "closed", message="the page did not close")
