"""Run a JupyterHub on loopback: shared by the demo, the test suite and the benchmark.

Not part of the public API. It only builds the configuration lines every local hub needs
(ports, proxy, state files), finds JupyterHub's configurable-http-proxy, and tidies up
after a hub that lost a port it was given.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Optional

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
PROXY_PID_FILE = "proxy.pid"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``127.0.0.1:port`` now.

    Binds the way Tornado and configurable-http-proxy do (``SO_REUSEADDR``), so a port
    held only by closed connections in TIME_WAIT counts as free, while any listener on
    it (on 127.0.0.1 or on all addresses) makes it busy.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def find_proxy() -> Optional[str]:
    """configurable-http-proxy from the repository's ``node_modules``, else from PATH."""
    local = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


MISSING_PROXY = (
    "configurable-http-proxy was not found: run `npm install` in the repository "
    "(`make demo` and `make test` do) or `npm install -g configurable-http-proxy`."
)


def loopback_hub_config(port: int, state_dir: Path, proxy: str, **names: str) -> str:
    """The ``jupyterhub_config.py`` lines for a hub on ``127.0.0.1:port`` keeping its state
    (database, cookie secret, pid files) in ``state_dir``. ``names`` may rename the state
    files: ``db``, ``cookie_secret``."""
    state = str(state_dir)
    db = names.get("db", "jupyterhub.sqlite")
    cookie_secret = names.get("cookie_secret", "jupyterhub_cookie_secret")
    return f"""\
c = get_config()  # noqa
c.JupyterHub.ip = {HOST!r}
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = {HOST!r}
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://{HOST}:{free_port()}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {state!r} + "/{PROXY_PID_FILE}"
c.JupyterHub.db_url = "sqlite:///" + {state!r} + "/{db}"
c.JupyterHub.cookie_secret_file = {state!r} + "/{cookie_secret}"
c.JupyterHub.pid_file = {state!r} + "/jupyterhub.pid"
"""


def lost_a_port_race(log: str) -> bool:
    """Whether a hub's start-up ``log`` shows that a port was taken under it.

    :func:`loopback_hub_config` picks the hub's internal port and the proxy's API port
    when it writes the config; another program may listen on one of them before the hub
    or its proxy does. Started again, the hub gets other ports.
    """
    return "address already in use" in log.lower()


def stop_orphaned_proxy(state_dir: Path) -> None:
    """Stop the proxy a hub left running when it exited without stopping it (at start-up,
    say), as the hub's next start would; the proxy has a session of its own, so signalling
    the hub's process group does not reach it."""
    pid_file = state_dir / PROXY_PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    pid_file.unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    # its ports are free once it has exited; a hub started next needs one of them
    deadline = time.monotonic() + 2
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs; an exited process nobody has reaped yet (a zombie) does not."""
    if os.path.exists("/proc/self/stat"):  # Linux; macOS has no /proc
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
