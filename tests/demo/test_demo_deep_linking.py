"""The demo covers deep linking end to end, in a real browser.

The instructor's "Deep linking" button opens the hub's picker; the picked link comes
back to the emulated course page, and a student's launch of it opens the notebook
folder in JupyterLab.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from .conftest import SPAWN_TIMEOUT, DemoProcess, screenshot, wait

pytestmark = pytest.mark.browser


def test_instructor_picks_a_folder_and_a_student_launches_it(
    demo: DemoProcess,
    course_url: str,
    browser: webdriver.Chrome,
) -> None:
    browser.get(course_url)
    course_window = browser.current_window_handle
    browser.find_element(By.ID, "deep-linking-window").click()
    wait(browser, 10).until(EC.number_of_windows_to_be(2))
    browser.switch_to.window(next(h for h in browser.window_handles if h != course_window))

    wait(browser, 30).until(EC.presence_of_element_located((By.ID, "lti13-picker")))
    browser.find_element(By.ID, "kind-path").click()
    browser.find_element(By.ID, "path").send_keys("lab/tree")
    title = browser.find_element(By.ID, "title")
    title.send_keys("Course files")
    screenshot(browser, "deep-linking-picker")
    title.send_keys(Keys.ENTER)  # submits with the form's first button, "Add the link"
    result = wait(browser, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#result, #error"))
    )
    assert result.get_attribute("id") == "result", result.text
    browser.close()
    browser.switch_to.window(course_window)

    browser.refresh()
    links = browser.find_element(By.ID, "created-links")
    assert "Course files" in links.text
    buttons = links.find_elements(By.CSS_SELECTOR, "a[id$='-window']")
    buttons[-1].click()
    wait(browser, 10).until(EC.number_of_windows_to_be(2))
    browser.switch_to.window(next(h for h in browser.window_handles if h != course_window))
    try:
        wait(browser, SPAWN_TIMEOUT).until(
            EC.presence_of_element_located((By.ID, "jp-main-dock-panel"))
        )
    except Exception:
        screenshot(browser, "deep-link-student-failed")
        raise AssertionError(
            f"JupyterLab did not load at {browser.current_url}\n{demo.output[-3000:]}"
        ) from None
    # the URL the page was loaded from (JupyterLab rewrites the address bar afterwards)
    loaded = browser.execute_script("return performance.getEntriesByType('navigation')[0].name")
    assert unquote(urlsplit(loaded).path) == "/user/student1@example.edu/lab/tree", loaded
    screenshot(browser, "deep-link-student-jupyterlab")
