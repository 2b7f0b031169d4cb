"""The demo around ports and state: busy ports named, foreign servers not taken for the hub,
a running demo's state directory left alone. No browser needed.

The demo command runs as a subprocess, as `make demo` runs it; "another program" on a port
is a real HTTP server that answers 200 on ``/hub/api/`` like a hub would.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest
import requests
from tornado.httpclient import AsyncHTTPClient

from ltiauthenticator._localhub import HOST, free_port, port_is_free
from ltiauthenticator.demo import LOCK_FILE, Probe, is_our_hub, state_lock, wait_for_hub

from ..support.emulator import EmulatorServer
from ..support.hub import Hub
from ..support.threaded import ForeignProxyAPI, serving
from .conftest import DemoProcess

REPO = Path(__file__).resolve().parents[2]


class _AnswersEverything(BaseHTTPRequestHandler):
    """Some other web application: 200 and a hub-like JSON body for every GET."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"version": "6.1.1", "kind": "service", "name": "demo-probe"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def foreign_server() -> Iterator[Tuple[int, str]]:
    with serving(_AnswersEverything) as server:
        yield server


def existing_state(state: Path) -> Path:
    """A state directory as a previous (or running) demo leaves it."""
    (state / "jupyter-config").mkdir(parents=True)
    (state / "jupyterhub_config.py").write_text("# the running demo's config\n")
    (state / "jupyter-config" / "jupyter_server_config.py").write_text("# server config\n")
    (state / "jupyterhub.log").write_text("[I] the running demo's log\n")
    return state


def snapshot(state: Path) -> Dict[str, Tuple[bytes, int]]:
    """Content and modification time of every file but the lock."""
    return {
        str(p.relative_to(state)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(state.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def run_demo(state: Path, hub_port: int, lms_port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ltiauthenticator.demo",
            "--hub-port",
            str(hub_port),
            "--lms-port",
            str(lms_port),
            "--state-dir",
            str(state),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("busy", ["hub", "lms"])
def test_a_busy_port_is_named_in_one_line_and_the_state_is_untouched(
    tmp_path: Path, foreign_server: Tuple[int, str], busy: str
) -> None:
    busy_port, busy_url = foreign_server
    assert requests.get(busy_url + "/hub/api/", timeout=5).status_code == 200
    state = existing_state(tmp_path / "state")
    before = snapshot(state)
    other = free_port()
    hub_port, lms_port = (busy_port, other) if busy == "hub" else (other, busy_port)

    result = run_demo(state, hub_port, lms_port)

    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert len(output.splitlines()) == 1, output
    assert "Traceback" not in output
    option, variable = {"hub": ("--hub-port", "HUB_PORT"), "lms": ("--emulator-port", "LMS_PORT")}[
        busy
    ]
    assert f"Port {busy_port} " in output and option in output and variable in output, output
    assert "is running" not in output
    assert snapshot(state) == before


def test_a_second_demo_leaves_the_running_demos_state_alone(tmp_path: Path) -> None:
    state = existing_state(tmp_path / "state")
    before = snapshot(state)
    with state_lock(state):  # what the running demo holds for its whole life
        result = run_demo(state, free_port(), free_port())
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert len(output.splitlines()) == 1, output
    assert f"Another demo is running with its state in {state}" in output
    assert snapshot(state) == before


def test_the_lock_goes_with_the_demo_that_held_it(tmp_path: Path) -> None:
    """A demo that ended (however) does not block the next one's lock."""
    state = tmp_path / "state"
    with state_lock(state):
        pass
    with state_lock(state):
        with pytest.raises(Exception, match="Another demo is running"):
            with state_lock(state):
                pass


def test_a_foreign_answer_on_hub_api_is_not_taken_for_our_hub(
    foreign_server: Tuple[int, str],
) -> None:
    """Even when the port was free at the check and someone else answers there later."""
    _, url = foreign_server
    probe = Probe.new()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(RuntimeError, match="did not answer"):
            asyncio.run(wait_for_hub(url, alive, probe, timeout=1))
        assert alive.poll() is None  # the timeout, not a dead process, ended the wait
    finally:
        alive.kill()
        alive.wait()


#: The demo, with its port picker handing out ``taken`` as the second port it picks (the
#: proxy's API port): what happens when another program starts listening on a port
#: between the demo's pick and the proxy's listen.
RACING_DEMO = """
import itertools, sys
from ltiauthenticator import _localhub
picks = itertools.count(1)
pick = _localhub.free_port
_localhub.free_port = lambda: {taken} if next(picks) == 2 else pick()
from ltiauthenticator.demo import main
main(sys.argv[1:])
"""


def test_a_port_taken_while_the_hub_starts_gets_the_hub_started_again(tmp_path: Path) -> None:
    with serving(ForeignProxyAPI) as (taken, _):
        demo = DemoProcess(tmp_path / "state", ["-c", RACING_DEMO.format(taken=taken)])
        try:
            demo.wait_for_url()
        finally:
            code = demo.stop()
    output = demo.output
    log = (tmp_path / "state" / "jupyterhub.log").read_text()
    assert f"address already in use 127.0.0.1:{taken}" in log, log[-3000:]
    assert "starting it again on other ports" in output, output
    assert output.count("Starting JupyterHub") == 2, output
    assert code == 0 and "Demo stopped." in output, output
    # the first hub's proxy, which had the hub's public port, was stopped with it
    assert port_is_free(demo.hub_port)
    assert not (tmp_path / "state" / "proxy.pid").exists()


async def test_a_real_hub_is_recognised_by_its_probe_token(hub: Hub) -> None:
    """The other side of the check: the hub that knows the token is ours, with no other."""
    client = AsyncHTTPClient()
    assert await is_our_hub(client, hub.url, Probe(name="tests", token=hub.token))
    assert not await is_our_hub(client, hub.url, Probe(name="tests", token="0" * 32))
    assert not await is_our_hub(client, hub.url, Probe(name="other", token=hub.token))


def test_the_readme_names_the_course_page_as_it_reads() -> None:
    """The README's row labels (in italics) and button texts (in bold) are on the page."""
    readme = (REPO / "README.md").read_text()
    paragraph = readme[readme.index("**The demo**") :].split("\n\n", 1)[0]
    paragraph = " ".join(paragraph.replace("**The demo**", "").split())
    buttons = re.findall(r"\*\*(.+?)\*\*", paragraph)
    rows = re.findall(r"(?<!\*)\*([^*]+?)\*(?!\*)", paragraph)
    assert buttons and rows, paragraph
    port = free_port()
    server = EmulatorServer(HOST, port, hub_url="http://127.0.0.1:8000").start()
    try:
        page = requests.get(server.url + "/", timeout=10).text
    finally:
        server.stop()
    visible = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    for text in buttons + rows:
        assert text in visible, (text, visible)
