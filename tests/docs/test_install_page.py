"""The install page (docs/source/tutorials/install.md), followed as an admin would.

One slow test. It reads the page and does what it says:

1. ``python3 -m venv`` a fresh virtualenv (no system site-packages) and run the page's
   ``pip install`` line in it, with the repository's path in place of the package name, as
   the page's "from a checkout" sentence says (the name on PyPI is the established
   plugin). pip builds the package from the repository and resolves every dependency
   afresh; only the download cache is warm. That virtualenv is kept in
   ``.test-cache/install-page/`` (gitignored) for the next runs of the same day while
   pyproject.toml and the page stay the same; a kept one gets this checkout's package
   again (``pip install --no-deps --force-reinstall``) whenever the package's files differ
   from those it was last installed from, so the code tested is always the current one. A
   fresh clone (CI) always makes it afresh;
2. start the platform emulator from that virtualenv with the page's command;
3. write the page's ``jupyterhub_config.py`` and check that the four values the emulator
   printed are in it;
4. start JupyterHub from that virtualenv with the page's command;
5. launch as the student through real HTTP (a cookie-keeping client standing in for the
   browser) until ``/user/student1@example.edu/api/status`` answers 200.

What differs from the page, and why: the ports (free ones instead of 8000 and 8765, the
emulator's port replaced in the config), the state files and the users' home directory
(in the test's temporary directory), the hub bound to 127.0.0.1 with private internal
ports (other hubs may run on this machine), ``--allow-root`` when the test runs as root
(the page says so), and configurable-http-proxy from the repository's ``node_modules``
instead of ``npm install -g`` (the same package, put on PATH).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urljoin

import requests

from ltiauthenticator._localhub import MISSING_PROXY, find_proxy, free_port, loopback_hub_config

from ..support.client import LaunchClient
from ..support.install_cache import PAGE, REPO, page_venv, run_pip

PAGE_VENV = "/opt/jupyterhub"
PAGE_HUB_DIR = "/srv/jupyterhub"
EMULATOR_ORIGIN = "http://127.0.0.1:8765"
SPAWN_TIMEOUT = 180


def fenced_blocks(page: str) -> List[tuple[str, str]]:
    """(info line, body) of every fenced code block, including MyST directive options."""
    return [
        (m.group(1).strip(), m.group(2))
        for m in re.finditer(r"^```([^\n]*)\n(.*?)^```[ \t]*$", page, re.M | re.S)
    ]


def page_config(page: str) -> str:
    """The block captioned ``jupyterhub_config.py``, without its directive options."""
    for info, body in fenced_blocks(page):
        if info.startswith("{code-block} python") and ":caption: jupyterhub_config.py" in body:
            return "\n".join(line for line in body.splitlines() if not line.startswith(":"))
    raise AssertionError("no code block captioned jupyterhub_config.py on the install page")


def page_commands(page: str, first_word: str) -> List[str]:
    """The lines of ``sh`` blocks that run ``first_word`` (after any ``VAR=value``)."""
    commands = []
    for info, body in fenced_blocks(page):
        if info != "sh":
            continue
        for line in body.splitlines():
            words = [w for w in shlex.split(line) if "=" not in w.split("/")[0]]
            if words and words[0].endswith(first_word):
                commands.append(line)
    return commands


class Output:
    """A child's combined output, read by a thread so the child never blocks on a pipe."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: List[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def wait_for_json_line(self, process: subprocess.Popen, timeout: float) -> Dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            for line in list(self.lines):
                if line.startswith("{"):
                    return json.loads(line)
            time.sleep(0.1)
        raise AssertionError("the emulator printed no JSON line:\n" + "".join(self.lines))

    def tail(self) -> str:
        return "".join(self.lines)[-4000:]


def start(args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_until_running(
    client: LaunchClient, hub: str, name: str, hub_output: Output
) -> requests.Response:
    """Follow the hub to the user's server until its API answers (spawning takes a while)."""
    deadline = time.monotonic() + SPAWN_TIMEOUT
    last: Optional[requests.Response] = None
    page_url = ""
    while time.monotonic() < deadline:
        # a page first: it goes through the single-user server's OAuth with the hub
        page = client.session.get(f"{hub}/user/{name}/lab", timeout=30)
        page_url = page.url
        if page.status_code == 200 and page.url.startswith(f"{hub}/user/{name}/lab"):
            last = client.session.get(f"{hub}/user/{name}/api/status", timeout=30)
            if last.status_code == 200:
                return last
        time.sleep(0.5)  # each round is several requests through the hub
    detail = f"{last.status_code} {last.text[:300]}" if last is not None else page_url
    raise AssertionError(
        f"the server of {name} did not answer within {SPAWN_TIMEOUT} s: {detail}\n"
        + hub_output.tail()
    )


def make_page_venv(page: str, venv: Path) -> None:
    """``python3 -m venv``, then the page's pip line with the repository for the package."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    [pip_line] = [c for c in page_commands(page, "pip") if "install" in c]
    pip_args = shlex.split(pip_line.replace(PAGE_VENV, str(venv)))
    pip_args = [str(REPO) if a == "jupyterhub-ltiauthenticator" else a for a in pip_args]
    assert str(REPO) in pip_args and "jupyterlab" in pip_args, pip_line
    run_pip(pip_args)


def test_install_page_leads_to_a_running_jupyterlab(tmp_path: Path) -> None:
    page = PAGE.read_text()
    proxy = find_proxy()
    assert proxy is not None, MISSING_PROXY
    with page_venv(page, lambda venv: make_page_venv(page, venv)) as venv:
        follow_the_page(page, venv, proxy, tmp_path)


def follow_the_page(page: str, venv: Path, proxy: str, tmp_path: Path) -> None:
    """Steps 2 to 5, with the virtualenv of step 1."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(proxy).parent), env["PATH"]])
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    # where the package would be imported from (finding it does not import it)
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util; print(importlib.util.find_spec('ltiauthenticator').origin)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert where.startswith(str(venv)), f"the package was not installed into the venv: {where}"
    hub_port, emulator_port = free_port(), free_port()
    hub = f"http://127.0.0.1:{hub_port}"
    emulator_origin = f"http://127.0.0.1:{emulator_port}"

    # 2. the emulator, with the page's command
    [emulator_line] = page_commands(page, "python")
    emulator_args = shlex.split(emulator_line.replace(PAGE_VENV, str(venv)))
    emulator_args = [a.replace("127.0.0.1:8000", f"127.0.0.1:{hub_port}") for a in emulator_args]
    emulator = start([*emulator_args, "--port", str(emulator_port)], tmp_path, env)
    emulator_output = Output(emulator)
    hub_process: Optional[subprocess.Popen] = None
    try:
        printed = emulator_output.wait_for_json_line(emulator, timeout=30)

        # 3. the page's config, with the emulator's port
        hub_dir = tmp_path / "srv-jupyterhub"
        hub_dir.mkdir()
        config = page_config(page).replace(EMULATOR_ORIGIN, emulator_origin)
        config = config.replace(PAGE_HUB_DIR, str(hub_dir))
        for key in ("issuer", "authorize_url", "jwks_endpoint", "client_id"):
            assert repr(printed[key]).replace("'", '"') in config, (key, printed[key])
        loopback = loopback_hub_config(hub_port, hub_dir, proxy).replace("c = get_config()", "")
        config += "\n# test only: loopback ports and state files\n" + loopback
        if os.geteuid() == 0:
            assert 'c.Spawner.args = ["--allow-root"]' in page
            config += 'c.Spawner.args = ["--allow-root"]\n'
        (hub_dir / "jupyterhub_config.py").write_text(config)

        # 4. JupyterHub, with the page's command (PATH set as it says)
        [hub_line] = page_commands(page, "jupyterhub")
        hub_args = [w for w in shlex.split(hub_line) if not w.startswith("PATH=")]
        hub_process = start(hub_args, hub_dir, env)
        hub_output = Output(hub_process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and hub_process.poll() is None:
            try:
                if requests.get(f"{hub}/hub/api/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        assert hub_process.poll() is None, hub_output.tail()

        # 5. a launch as the student, through the emulator's course page link
        client = LaunchClient()
        start_launch = client.session.get(
            printed["course_page"] + "launch?user=student1&role=student",
            allow_redirects=False,
            timeout=15,
        )
        assert start_launch.status_code == 302, start_launch.text[:500]
        result = client.launch(start_launch.headers["Location"])
        assert result.callback is not None and result.callback.status_code == 302, (
            result.final.status_code,
            result.final.text[-1000:],
            hub_output.tail(),
        )
        # where the hub sends the user: its spawn page starts JupyterLab
        landing = client.session.get(
            urljoin(hub, result.callback.headers["Location"]), timeout=SPAWN_TIMEOUT
        )
        assert landing.status_code == 200, (landing.url, landing.text[-1000:], hub_output.tail())
        status = wait_until_running(client, hub, "student1@example.edu", hub_output)
        assert "started" in status.json(), status.text
        assert (hub_dir / "lti13_tool_key.pem").stat().st_mode & 0o077 == 0
        assert (hub_dir / "home" / "student1@example.edu").is_dir()
    finally:
        if hub_process is not None:
            stop(hub_process)
        stop(emulator)
