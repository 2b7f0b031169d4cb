"""Dynamic registration in Chromium: the hub's registration page inside the LMS.

The LMS (``http://localhost:<port>``) and the hub (``http://127.0.0.1:<port>``) are
different sites. The registration needs no cookie, so plain http shows what matters
here: the hub's page loads inside the LMS's iframe (Canvas) or in a window the LMS opened
(Moodle, Brightspace), and its ``org.imsglobal.lti.close`` message reaches the LMS, which
then closes it.
"""

from __future__ import annotations

from typing import Iterator
from urllib.parse import quote

import pytest

from ..flow.test_dynamic_registration import admin_registrations
from ..support.emulator import EmulatorServer
from ..support.hub import free_port


@pytest.fixture
def registering_lms(session_hub) -> Iterator[EmulatorServer]:
    server = EmulatorServer("localhost", free_port(), hub_url=session_hub.url).start()
    yield server
    server.stop()


@pytest.fixture
def dr_hub(hub_with, tmp_path):
    return hub_with(
        LTI13Authenticator={
            "dynamic_registration": True,
            "registration_store_url": f"sqlite:///{tmp_path / 'registrations.sqlite'}",
        }
    )


@pytest.mark.parametrize("window", [False, True], ids=["iframe", "new-window"])
def test_the_registration_page_closes_itself_in_the_lms(
    dr_hub, registering_lms, browser_factory, window
):
    browser = browser_factory()
    driver = browser.driver
    register_url = quote(f"{dr_hub.url}/hub/lti13/register", safe="")
    driver.get(
        f"{registering_lms.url}/dynamic_registration?url={register_url}"
        + ("&window=1" if window else "")
    )
    browser.wait_for(
        lambda d: (
            d.execute_script(
                "var s = document.getElementById('dr-status'); return s && s.textContent.trim();"
            )
            == "closed"
        ),
        message="the LMS did not receive the close message",
    )
    browser.screenshot(f"dynamic-registration-{'window' if window else 'iframe'}")
    (stored,) = admin_registrations(dr_hub)
    assert stored["status"] == "pending"
    assert stored["issuer"] == registering_lms.platform.issuer
    # the frame or window is gone once closed
    assert driver.find_elements("id", "tool-registration") == [] or window
    assert len(driver.window_handles) == 1
