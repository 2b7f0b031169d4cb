"""The demo, as a new user would try it: `python -m ltiauthenticator.demo` plus a real browser.

The demo command runs on free ports (``demo`` in conftest.py, shared with the deep linking
test); the tests drive headless Debian chromium through selenium: "Launch as student" (and as
instructor) in a new window must end in JupyterLab at ``/user/<email>/lab``.
Screenshots go to ``test-artifacts/demo/``.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from .conftest import SPAWN_TIMEOUT, DemoProcess, screenshot, wait

pytestmark = pytest.mark.browser


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
    wait(browser, 10).until(EC.number_of_windows_to_be(2))
    new_window = next(h for h in browser.window_handles if h != course_window)
    browser.switch_to.window(new_window)

    try:
        wait(browser, SPAWN_TIMEOUT).until(
            EC.presence_of_element_located((By.ID, "jp-main-dock-panel"))
        )
        wait(browser, 30).until(lambda d: "JupyterLab" in d.title)
    except Exception:
        screenshot(browser, f"{role}-failed")
        raise AssertionError(
            f"JupyterLab did not load for the {role}; at {browser.current_url}\n"
            f"demo output:\n{demo.output[-3000:]}"
        ) from None
    # the launcher's tiles are drawn: the screenshot shows a usable JupyterLab
    wait(browser, 30).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard")))
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
    wait(browser, 10).until(EC.frame_to_be_available_and_switch_to_it((By.ID, "tool")))
    try:
        wait(browser, SPAWN_TIMEOUT).until(
            EC.presence_of_element_located((By.ID, "jp-main-dock-panel"))
        )
    except Exception:
        browser.switch_to.default_content()
        screenshot(browser, "student-iframe-failed")
        raise
    wait(browser, 30).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard")))
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
