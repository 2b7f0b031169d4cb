"""The demo, as a new user would try it: `python -m ltiauthenticator.demo` plus a real browser.

Starts the demo command itself on free ports, waits for the course-page URL it prints,
then drives headless Debian chromium through selenium: "Launch as student" (and as
instructor) in a new window must end in JupyterLab at ``/user/<email>/lab``.
Screenshots go to ``test-artifacts/demo/``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from ltiauthenticator._localhub import free_port

from ..support.chromium import new_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "demo"
SPAWN_TIMEOUT = 90

pytestmark = pytest.mark.browser


class DemoProcess:
    """The demo command, with its output collected by a reader thread."""

    def __init__(self, state_dir: Path) -> None:
        self.hub_port = free_port()
        self.emulator_port = free_port()
        self.lines: List[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ltiauthenticator.demo",
                "--hub-port",
                str(self.hub_port),
                "--emulator-port",
                str(self.emulator_port),
                "--state-dir",
                str(state_dir),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_url(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf"http://127\.0\.0\.1:{self.emulator_port}/\S*")
        while time.monotonic() < deadline:
            match = pattern.search(self.output)
            if match:
                return match.group(0)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"the demo printed no course URL:\n{self.output[-4000:]}")

    def stop(self) -> int:
        """Ctrl-C, as a user would press it; returns the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._reader.join(5)
        return self.process.returncode


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    state_dir = tmp_path_factory.mktemp("demo-state")
    process = DemoProcess(state_dir)
    try:
        yield process
    finally:
        code = process.stop()
    assert code == 0, f"the demo did not stop cleanly on Ctrl-C:\n{process.output[-4000:]}"
    assert "Demo stopped." in process.output
    hub_log = (state_dir / "jupyterhub.log").read_text(errors="replace")
    assert "Cleaning up single-user servers" in hub_log


@pytest.fixture(scope="module")
def course_url(demo: DemoProcess) -> str:
    url = demo.wait_for_url()
    urls = re.findall(r"https?://\S+", demo.output)
    assert urls == [url], "the demo should print exactly one URL"
    assert "Ctrl-C" in demo.output
    return url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = new_chromium(tmp_path / "chromium-profile")
    driver.set_page_load_timeout(SPAWN_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


@pytest.mark.parametrize(
    "button, username",
    [
        ("launch-as-student-window", "student1@example.edu"),
        ("launch-as-instructor-window", "instructor1@example.edu"),
    ],
)
def test_launch_in_new_window_opens_jupyterlab(
    demo: DemoProcess, course_url: str, browser: webdriver.Chrome, button: str, username: str
) -> None:
    role = button.split("-")[2]
    browser.get(course_url)
    screenshot(browser, "course-page")
    course_window = browser.current_window_handle

    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 10).until(EC.number_of_windows_to_be(2))
    new_window = next(h for h in browser.window_handles if h != course_window)
    browser.switch_to.window(new_window)

    try:
        WebDriverWait(browser, SPAWN_TIMEOUT).until(
            EC.presence_of_element_located((By.ID, "jp-main-dock-panel"))
        )
        WebDriverWait(browser, 30).until(lambda d: "JupyterLab" in d.title)
    except Exception:
        screenshot(browser, f"{role}-failed")
        raise AssertionError(
            f"JupyterLab did not load for the {role}; at {browser.current_url}\n"
            f"demo output:\n{demo.output[-3000:]}"
        ) from None
    # the launcher's tiles are drawn: the screenshot shows a usable JupyterLab
    WebDriverWait(browser, 30).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard"))
    )
    screenshot(browser, f"{role}-jupyterlab")

    path = browser.current_url.split("127.0.0.1:", 1)[1].split("/", 1)[1]
    assert path.startswith(f"user/{username}/lab"), browser.current_url
    browser.close()
    browser.switch_to.window(course_window)


def test_embedded_launch_shows_jupyterlab_in_the_course_iframe(
    demo: DemoProcess, course_url: str, browser: webdriver.Chrome
) -> None:
    browser.get(course_url)
    browser.find_element(By.ID, "launch-as-student-iframe").click()
    WebDriverWait(browser, 10).until(EC.frame_to_be_available_and_switch_to_it((By.ID, "tool")))
    try:
        WebDriverWait(browser, SPAWN_TIMEOUT).until(
            EC.presence_of_element_located((By.ID, "jp-main-dock-panel"))
        )
    except Exception:
        browser.switch_to.default_content()
        screenshot(browser, "student-iframe-failed")
        raise
    WebDriverWait(browser, 30).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard"))
    )
    path = browser.execute_script("return window.location.pathname")
    assert path.startswith("/user/student1@example.edu/lab"), path
    browser.switch_to.default_content()
    screenshot(browser, "student-iframe-jupyterlab")


def test_a_grade_sent_as_the_banner_says_arrives_in_the_gradebook(demo, course_url):
    """The demo's grade loop: a student's launch, the banner's command, the gradebook."""
    import requests

    from ..support.client import parse_form

    session = requests.Session()
    page = session.get(course_url + "launch?user=student1&role=student", timeout=30)
    action, form = parse_form(page.text, page.url)
    assert session.post(action, data=form, allow_redirects=False, timeout=30).status_code == 302
    (script,) = re.findall(r"sh (\S+send-grade\.sh)", demo.output)
    result = subprocess.run(["sh", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    gradebook = session.get(course_url, timeout=30).text
    assert "Week 1" in gradebook and "Well done" in gradebook
    assert re.search(r"<td>sub-student1</td><td>8(\.0)?</td><td>10(\.0)?</td>", gradebook)
