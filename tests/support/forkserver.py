"""JupyterHub processes forked from a server that has imported JupyterHub already.

Importing JupyterHub and the authenticator takes a hub process 1–1.5 s of CPU before it
reads its config: more than the rest of its start. A multiprocessing fork server
imports them once per test worker; each hub is then a fork of it, with its own
environment, working directory, log file and session, and runs ``jupyterhub -f <config>``
as the command would.

The fork server is not measured by coverage; a hub that is (``Hub.measured``) starts
coverage itself, as coverage's ``.pth`` file would have at interpreter start-up.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from multiprocessing import forkserver
from typing import Any, Dict, Iterator, List, Optional

from .measuring import is_coverage_variable

#: Imported by the fork server, before any hub is forked from it.
PRELOAD = (
    "tests.support.forkserver",
    "jupyterhub.app",
    "sqlalchemy.dialects.sqlite",
    "ltiauthenticator.lti13.auth",
    "ltiauthenticator.lti13.handlers",
)

_start_lock = threading.Lock()
_started = False


class ForkedProcess:
    """A forked hub, through the part of :class:`subprocess.Popen` the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess, args: List[str]):
        self._process = process
        self.args = args
        self.pid: int = process.pid  # type: ignore[assignment]

    @property
    def returncode(self) -> Optional[int]:
        return self._process.exitcode

    def poll(self) -> Optional[int]:
        return self._process.exitcode

    def wait(self, timeout: Optional[float] = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode


def start_jupyterhub(
    argv: List[str], *, cwd: str, env: Dict[str, str], log_path: str
) -> ForkedProcess:
    """``jupyterhub <argv>`` in ``cwd`` with exactly ``env``, its output appended to
    ``log_path``, in a session of its own (``os.killpg(process.pid, ...)`` stops it and
    its proxy)."""
    context = _context()
    process = context.Process(
        target=_run_jupyterhub, args=(argv, cwd, env, log_path), name="jupyterhub", daemon=True
    )
    process.start()
    return ForkedProcess(process, ["jupyterhub", *argv])


def _context() -> Any:
    """The fork server's context, the server started on first use (multiprocessing starts
    it again, measured, should it ever die)."""
    global _started
    context = multiprocessing.get_context("forkserver")
    with _start_lock:
        if not _started:
            context.set_forkserver_preload(list(PRELOAD))
            with _unmeasured_environment():
                forkserver.ensure_running()
            _started = True
    return context


@contextmanager
def _unmeasured_environment() -> Iterator[None]:
    """``os.environ`` without coverage's variables, while the fork server starts: a
    measured fork server would measure every hub forked from it."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if is_coverage_variable(k)}
    try:
        yield
    finally:
        os.environ.update(saved)


def _run_jupyterhub(argv: List[str], cwd: str, env: Dict[str, str], log_path: str) -> None:
    """In the forked process: become what ``Popen(["jupyterhub", *argv], ...)`` would."""
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.argv = ["jupyterhub", *argv]
    coverage = _start_coverage()
    try:
        from jupyterhub.app import JupyterHub

        JupyterHub.launch_instance(argv)
    finally:
        if coverage is not None:
            # multiprocessing ends the process with os._exit: no atexit handlers run
            coverage.stop()
            coverage.save()
        sys.stdout.flush()
        sys.stderr.flush()


def _start_coverage() -> Any:
    if not any(name.startswith("COVERAGE_PROCESS_") for name in os.environ):
        return None
    import coverage

    return coverage.process_startup(slug="forked-hub")
