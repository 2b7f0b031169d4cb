"""Start a real JupyterHub (with configurable-http-proxy) configured for the tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import requests

from ltiauthenticator._localhub import (
    MISSING_PROXY,
    REPO,
    free_port,
    loopback_hub_config,
    lost_a_port_race,
    stop_orphaned_proxy,
)
from ltiauthenticator._localhub import find_proxy as _find_proxy

from .forkserver import ForkedProcess, start_jupyterhub
from .measuring import unmeasured_environment

__all__ = [
    "GRADER_HUB_CONFIG",
    "GRADES_SCOPE",
    "REPO",
    "Hub",
    "HubAPI",
    "HubPool",
    "find_proxy",
    "free_port",
]


def find_proxy() -> str:
    found = _find_proxy()
    if not found:
        raise RuntimeError(MISSING_PROXY)
    return found


BASE_CONFIG = """
c.JupyterHub.authenticator_class = "lti13"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.log_level = "DEBUG"
c.Authenticator.enable_auth_state = True
c.JupyterHub.services = [{{"name": "tests", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": "tests-admin",
    "scopes": ["admin:users", "admin:auth_state", "admin:groups", "admin:servers",
               "read:metrics", "read:roles"],
    "services": ["tests"],
}}]
"""

GRADES_SCOPE = "custom:lti13:grades"

#: What the grades and roster API needs from JupyterHub itself, read at start-up: the
#: custom scope, held by the tests service (the grading service). The role is
#: BASE_CONFIG's plus that scope, since ``load_roles`` is replaced as a whole.
GRADER_HUB_CONFIG: Dict[str, Dict[str, Any]] = {
    "JupyterHub": {
        "custom_scopes": {GRADES_SCOPE: {"description": "Post grades to the LMS"}},
        "load_roles": [
            {
                "name": "tests-admin",
                "scopes": [
                    "admin:users",
                    "admin:auth_state",
                    "admin:groups",
                    "admin:servers",
                    "read:metrics",
                    "read:roles",
                    GRADES_SCOPE,
                ],
                "services": ["tests"],
            }
        ],
    }
}


class HubAPI:
    """The hub's REST API, called as the admin service ``tests``."""

    url: str
    token: str
    #: requests' ``verify`` for calls to this hub (a CA file for https hubs).
    verify: Any = True

    def api(self, method: str, path: str, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"} if auth else {}
        return requests.request(
            method,
            f"{self.url}/hub/api{path}",
            headers=headers,
            timeout=10,
            verify=self.verify,
            **kwargs,
        )

    def user(self, name: str) -> Optional[Dict[str, Any]]:
        """The user model with auth_state, or None when no such user exists."""
        response = self.api("GET", f"/users/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def user_count(self) -> int:
        return len(self.api("GET", "/users").json())


class Hub(HubAPI):
    """One running JupyterHub process; its log is kept for assertions."""

    #: Whether the process reports coverage (under ``make test``). An LTI 1.3 hub runs
    #: the code the in-process hub runs, where it is measured already; traced, a hub
    #: process takes about 2 s of CPU more to start and answers slower.
    measured = False
    #: Whether the process is forked from :mod:`tests.support.forkserver`, which has
    #: imported JupyterHub already, rather than started from scratch.
    forked = True

    def __init__(self, port: int, workdir: Path, config: str, name: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.name = name
        self.token = secrets.token_hex(16)
        self.config = config
        self.log_path = workdir / f"{name}.log"
        self.process: Optional[Union[subprocess.Popen, ForkedProcess]] = None
        self._terminated = False
        self._log_offset = 0

    def config_text(self) -> str:
        """The whole jupyterhub_config.py; subclasses add lines (TLS, say)."""
        return (
            loopback_hub_config(self.port, self.workdir, find_proxy(), db="hub.sqlite")
            + BASE_CONFIG.format(token=self.token)
            + self.config
        )

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ) if self.measured else unmeasured_environment()
        return dict(env, JUPYTERHUB_CRYPT_KEY=secrets.token_hex(32))

    def start(self, timeout: float = 60) -> Hub:
        self.launch()
        return self.wait_until_up(timeout)

    def launch(self) -> None:
        """Start the hub process; :meth:`wait_until_up` waits for it to answer."""
        config_path = self.workdir / f"{self.name}_config.py"
        config_path.write_text(self.config_text())
        env = self.environment()
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self._terminated = False
        if self.forked:
            self.process = start_jupyterhub(
                ["-f", str(config_path)],
                cwd=str(self.workdir),
                env=env,
                log_path=str(self.log_path),
            )
            return
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config_path)],
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 60) -> Hub:
        """Wait for the hub to answer; started again (twice at most) when another program
        took one of its internal ports first, as the demo does."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        restarts = 2
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_text()
                if restarts and lost_a_port_race(log):
                    restarts -= 1
                    self.stop()
                    self.launch()  # a new config: other internal ports
                    continue
                raise RuntimeError(f"JupyterHub exited at start-up:\n{log[-4000:]}")
            try:
                if self.api("GET", "/", auth=False).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"JupyterHub did not start in {timeout}s:\n{self.log_text()[-4000:]}")

    def terminate(self) -> None:
        """Ask the hub (and its proxy) to stop, without waiting: see :meth:`stop`."""
        if self.process and self.process.poll() is None and not self._terminated:
            self._signal(signal.SIGTERM)
            self._terminated = True

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:  # a forked hub that has not made its session yet
            os.kill(self.process.pid, signum)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        stop_orphaned_proxy(self.workdir)
        for leftover in ("hub.sqlite", "jupyterhub.pid"):
            (self.workdir / leftover).unlink(missing_ok=True)

    def begin_test(self) -> None:
        """From now on ``log_text`` shows only what the hub logs for the current test."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def end_test(self) -> None:
        self._log_offset = 0

    def log_text(self) -> str:
        """The hub's log since :meth:`begin_test` (the whole log before any test began)."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")


class HubPool:
    """Hub processes for the few configurations a running hub cannot switch to.

    Each configuration gets its own hub, on its own port and in its own directory,
    started on first use and kept until the session ends: tests in any order start
    each configuration once.
    """

    def __init__(self, workdir: Path, make_hub: Callable[..., Hub] = Hub):
        self.workdir = workdir
        self.make_hub = make_hub
        self.hubs: Dict[str, Hub] = {}

    def get(self, config: str) -> Hub:
        return self.get_all([config])[0]

    def get_all(self, configs: List[str]) -> List[Hub]:
        """The hubs for ``configs``; those not running yet start side by side."""
        starting = []
        for config in configs:
            if config not in self.hubs:
                name = f"hub{len(self.hubs)}"
                workdir = self.workdir / name
                workdir.mkdir()
                self.hubs[config] = hub = self.make_hub(free_port(), workdir, config, name)
                hub.launch()
                starting.append(hub)
        try:
            for hub in starting:
                hub.wait_until_up()
        except BaseException:
            for hub in starting:  # none of them is kept: the next get starts it again
                hub.stop()
                self.hubs = {c: h for c, h in self.hubs.items() if h is not hub}
            raise
        return [self.hubs[config] for config in configs]

    def stop(self) -> None:
        # each hub takes a moment to stop its proxy: they all stop at once
        for hub in self.hubs.values():
            hub.terminate()
        for hub in self.hubs.values():
            hub.stop()
        self.hubs.clear()
