"""Run a JupyterHub on loopback: shared by the demo, the test suite and the benchmark.

Not part of the public API. It only builds the configuration lines every local hub needs
(ports, proxy, state files) and finds JupyterHub's configurable-http-proxy.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Optional

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]


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
c.ConfigurableHTTPProxy.pid_file = {state!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {state!r} + "/{db}"
c.JupyterHub.cookie_secret_file = {state!r} + "/{cookie_secret}"
c.JupyterHub.pid_file = {state!r} + "/jupyterhub.pid"
"""
