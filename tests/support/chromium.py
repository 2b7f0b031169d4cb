"""Headless Debian Chromium through selenium, set up the one way every browser test uses.

Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them with apt);
selenium-manager is kept offline so it never downloads a browser or a driver.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

BASE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    # Chromium 15x preloads the address bar's drop-down, two WebUI pages in a renderer of
    # their own, for every window it opens: ~0.9 s of CPU each, though a headless window
    # never shows it (chromedriver merges this with its own --disable-features)
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
)


def new_chromium(
    profile: Path,
    *,
    extra_args: Iterable[str] = (),
    prefs: Optional[Dict[str, Any]] = None,
    driver_log: Optional[Path] = None,
) -> Any:
    """A fresh headless Chromium with its own profile directory."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        raise RuntimeError(
            "the browser tests need Debian's chromium and chromium-driver: "
            "`apt-get install chromium chromium-driver` (make test does)"
        )
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*BASE_FLAGS, f"--user-data-dir={profile}", *extra_args):
        options.add_argument(arg)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    service = Service(
        executable_path=CHROMEDRIVER, log_output=str(driver_log) if driver_log else None
    )
    return webdriver.Chrome(service=service, options=options)
