"""The demo command, started once for the tests that drive it with a browser.

``demo`` runs ``python -m ltiauthenticator.demo`` on free ports, as ``make demo`` runs it;
``course_url`` waits for the course page URL it prints; ``browser`` is a headless Debian
chromium the tests share. Screenshots go to ``test-artifacts/demo/``.
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
from typing import Iterator, List, Sequence

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from ltiauthenticator._localhub import free_port

from ..support.chromium import new_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "demo"
SPAWN_TIMEOUT = 90


class DemoProcess:
    """The demo command, with its output collected by a reader thread."""

    def __init__(
        self, state_dir: Path, launcher: Sequence[str] = ("-m", "ltiauthenticator.demo")
    ) -> None:
        """``python <launcher> --hub-port ...``; the launcher runs the demo's ``main``."""
        self.hub_port = free_port()
        self.emulator_port = free_port()
        self.lines: List[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                *launcher,
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
            time.sleep(0.05)
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


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """One demo for the tests here that drive it: its start and each user's JupyterLab
    spawn are paid once. It is stopped with Ctrl-C once they are done (package scope),
    and must stop cleanly."""
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


@pytest.fixture(scope="package")
def course_url(demo: DemoProcess) -> str:
    url = demo.wait_for_url()
    urls = re.findall(r"https?://\S+", demo.output)
    assert urls == [url], "the demo should print exactly one URL"
    assert "Ctrl-C" in demo.output
    return url


@pytest.fixture(scope="package")
def _demo_chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = new_chromium(tmp_path_factory.mktemp("demo-chromium") / "profile")
    driver.set_page_load_timeout(SPAWN_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(_demo_chromium: webdriver.Chrome) -> webdriver.Chrome:
    """Headless Debian chromium, one window on a blank page.

    One browser serves the demo's tests, as one person's browser would: every launch logs
    its user in afresh, and JupyterLab's code, compiled once per user, loads in about half
    the CPU time the second time (~1.7 s instead of ~3.3 s).
    """
    driver = _demo_chromium
    first, *others = driver.window_handles
    for handle in others:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(first)
    driver.get("about:blank")
    return driver


def wait(driver: webdriver.Chrome, timeout: float) -> WebDriverWait:
    """selenium's wait, polling every 0.1 s (its default, 0.5 s, idles a worker)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
