#!/usr/bin/env python
"""Launch-storm benchmark: a whole class clicks "open notebook" at the same moment.

For every run this script starts, in a temporary directory and on 127.0.0.1 only:

* the LTI platform emulator (``python -m ltiauthenticator.platform_emulator``) with a
  configurable JWKS latency, as its own process;
* a real JupyterHub (sqlite, configurable-http-proxy, ``SimpleLocalProcessSpawner``
  that is never used) with the authenticator under test.

Then N distinct students (``student0`` … ``student{N-1}``) run complete LTI 1.3 launches
with concurrency C: the emulator's ``/launch`` sends each to the hub's login initiation;
the hub redirects to the emulator's ``/authorize``; the auto-submitting form (``id_token``
+ ``state``) is POSTed to the hub's callback, which must answer 302 and set the hub's
login cookie. The final redirect is not followed (nothing is spawned). Each student has
a cookie jar of their own.

While the storm runs, a separate process polls an unrelated hub endpoint
(``/hub/api/``, through the proxy) every 20 ms; it is also measured while the hub is
idle, before the storm. The hub process's CPU time is read from ``/proc/<pid>/stat``.

``--compare`` runs the established plugin (``jupyterhub-ltiauthenticator==1.6.3`` from
PyPI, in ``benchmarks/.venv-established/``, created on first use) the same way,
alternating ours / established, and prints ratios.

``--registrations N`` keeps the platform's registration in the registration store (as
dynamic registration does) together with N-1 other active registrations, instead of in
the configuration: launches/s and hub CPU per launch with many stored registrations can
then be compared with one; the hub's start-up time is reported too.

Launch latency is measured from the hub's login initiation request to the callback's
302 (three HTTP requests: hub, platform, hub); the emulator's ``/launch`` step before it
is not timed. launches/s is students divided by the wall time of the whole storm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode, urljoin

# Helpers only (the code under test runs in the hub processes, from --ours-ref).
from ltiauthenticator._localhub import MISSING_PROXY, free_port, loopback_hub_config
from ltiauthenticator._localhub import find_proxy as _find_proxy
from ltiauthenticator.platform_emulator.forms import read_auto_submit_form

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
ESTABLISHED_VENV = HERE / ".venv-established"
ESTABLISHED_PINS = ["jupyterhub==6.1.1", "jupyterhub-ltiauthenticator==1.6.3"]
CLIENT_ID = "jupyterhub-tool"
LOOPBACK = "127.0.0.1"

# PYTHONPATH entry holding a snapshot of our package (see --ours-ref), or None.
_OURS_PATH: Optional[str] = None

# Every child process we start, so that nothing outlives the benchmark.
_CHILDREN: List[subprocess.Popen] = []


# -- processes ---------------------------------------------------------------------------


def snapshot_ours(ref: str) -> Tuple[Optional[str], str]:
    """Extract ``ltiauthenticator/`` at git ``ref`` into a temp dir (for PYTHONPATH).

    The working tree may be mid-edit while a long benchmark runs; a snapshot keeps every
    run on the same code. ``ref == "WORKTREE"`` uses the working tree as it is.
    """
    if ref == "WORKTREE":
        return None, "working tree"
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = tempfile.mkdtemp(prefix="launch-storm-src-")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, "ltiauthenticator"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return target, f"git {ref} ({commit})"


def find_proxy() -> str:
    found = _find_proxy()
    if not found:
        raise SystemExit(MISSING_PROXY)
    return found


def spawn(cmd: List[str], **kwargs: Any) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    _CHILDREN.append(proc)
    return proc


def stop(proc: Optional[subprocess.Popen], grace: float = 10) -> None:
    """Stop a process we started, and its process group (the hub's proxy is in it)."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
    else:
        # the leader is gone; make sure nothing of its group is left either
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)


def stop_all() -> None:
    for proc in list(_CHILDREN):
        stop(proc, grace=5)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU seconds all processes on this machine spent busy (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal …: everything but idle and iowait
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def http_get(url: str, timeout: float = 5) -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# -- the established plugin's virtualenv -------------------------------------------------


def established_python(venv: Path) -> str:
    python = venv / "bin" / "python"
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m;"
        "print(m.version('jupyterhub'), m.version('jupyterhub-ltiauthenticator'))",
    ]
    wanted = "6.1.1 1.6.3"
    if python.exists():
        out = subprocess.run(check, capture_output=True, text=True, timeout=60)
        if out.stdout.strip() == wanted:
            return str(python)
    print(f"# creating {venv} with {' '.join(ESTABLISHED_PINS)} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *ESTABLISHED_PINS], check=True, timeout=900
    )
    out = subprocess.run(check, capture_output=True, text=True, timeout=60)
    if out.stdout.strip() != wanted:
        raise SystemExit(f"established venv has {out.stdout.strip()!r}, wanted {wanted!r}")
    return str(python)


# -- one hub + one platform --------------------------------------------------------------

HUB_CONFIG = """
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.log_level = {log_level!r}
c.JupyterHub.authenticator_class = {authenticator_class!r}
c.Authenticator.allow_all = True
c.Authenticator.enable_auth_state = {auth_state!r}
"""
CONFIGURED_PLATFORM = """
c.LTI13Authenticator.issuer = {issuer!r}
c.LTI13Authenticator.client_id = [{client_id!r}]
c.LTI13Authenticator.authorize_url = {authorize_url!r}
c.LTI13Authenticator.jwks_endpoint = {jwks_endpoint!r}
"""
STORED_PLATFORMS = """
c.LTI13Authenticator.dynamic_registration = True
c.LTI13Authenticator.registration_store_url = {store_url!r}
"""

IMPLEMENTATIONS = {
    # name: authenticator_class; the python running the hub decides which package it is
    "ours": "lti13",
    "established": "ltiauthenticator.lti13.auth.LTI13Authenticator",
}


@dataclass
class Stack:
    impl: str
    python: str
    jwks_latency: float
    workdir: Path
    log_level: str = "INFO"
    auth_state: bool = False
    #: Registrations in the store (0: the platform is configured, nothing is stored).
    registrations: int = 0
    hub_port: int = field(default_factory=free_port)
    emulator_port: int = field(default_factory=free_port)
    hub: Optional[subprocess.Popen] = None
    emulator: Optional[subprocess.Popen] = None
    platform: Dict[str, str] = field(default_factory=dict)
    #: Seconds from starting the hub process to its API answering.
    start_seconds: float = float("nan")

    @property
    def hub_url(self) -> str:
        return f"http://{LOOPBACK}:{self.hub_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://{LOOPBACK}:{self.emulator_port}"

    def start(self, timeout: float = 90) -> Stack:
        self._start_emulator(timeout)
        self._start_hub(timeout)
        return self

    def _start_emulator(self, timeout: float) -> None:
        # The emulator always runs from this repository's environment.
        self.emulator = spawn(
            [
                sys.executable,
                "-m",
                "ltiauthenticator.platform_emulator",
                "--port",
                str(self.emulator_port),
                "--hub-url",
                self.hub_url,
                "--jwks-latency",
                str(self.jwks_latency),
                "--client-id",
                CLIENT_ID,
            ],
            stdout=subprocess.PIPE,
            stderr=open(self.workdir / "emulator.log", "w"),  # noqa: SIM115
            text=True,
            cwd=self.workdir,
            env=self._env(ours=True),
        )
        line: List[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self.emulator.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            raise RuntimeError(
                "platform emulator did not start:\n"
                + (self.workdir / "emulator.log").read_text(errors="replace")[-3000:]
            )
        self.platform = json.loads(line[0])

    def _platform_config(self) -> str:
        if not self.registrations:
            return CONFIGURED_PLATFORM.format(
                issuer=self.platform["issuer"],
                client_id=CLIENT_ID,
                authorize_url=self.platform["authorize_url"],
                jwks_endpoint=self.platform["jwks_endpoint"],
            )
        store_url = f"sqlite:///{self.workdir / 'registrations.sqlite'}"
        seed_store(store_url, self.platform, self.registrations)
        return STORED_PLATFORMS.format(store_url=store_url)

    def _start_hub(self, timeout: float) -> None:
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(
            loopback_hub_config(self.hub_port, self.workdir, find_proxy())
            + HUB_CONFIG.format(
                log_level=self.log_level,
                authenticator_class=IMPLEMENTATIONS[self.impl],
                auth_state=self.auth_state,
            )
            + self._platform_config()
        )
        started = time.monotonic()
        env = self._env(ours=self.impl == "ours")
        env["JUPYTERHUB_CRYPT_KEY"] = secrets.token_hex(32)
        self.hub = spawn(
            [self.python, "-m", "jupyterhub", "-f", str(config)],
            cwd=self.workdir,  # not the repo: the established hub must not import our package
            stdout=open(self.workdir / "hub.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise RuntimeError(f"JupyterHub exited at start-up:\n{self.hub_log()[-4000:]}")
            try:
                if http_get(self.hub_url + "/hub/api/", timeout=2)[0] == 200:
                    self.start_seconds = time.monotonic() - started
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"JupyterHub did not start in {timeout}s:\n{self.hub_log()[-4000:]}")

    @staticmethod
    def _env(ours: bool) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        if ours and _OURS_PATH:
            env["PYTHONPATH"] = _OURS_PATH
        return env

    def hub_log(self) -> str:
        path = self.workdir / "hub.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def proxy_pid(self) -> Optional[int]:
        try:
            return int((self.workdir / "proxy.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def emulator_stats(self) -> Dict[str, Any]:
        return json.loads(http_get(self.emulator_url + "/_emulator/stats")[1])

    def stop(self) -> None:
        stop(self.hub)
        stop(self.emulator)


def seed_store(store_url: str, platform: Dict[str, str], count: int) -> None:
    """The emulated platform's registration plus ``count - 1`` others, all active."""
    from ltiauthenticator.lti13._registration_store import RegistrationStore

    store = RegistrationStore(store_url)
    store.open()
    rows = [
        {
            "issuer": platform["issuer"],
            "client_id": CLIENT_ID,
            "name_hint": "emulator",
            "authorize_url": platform["authorize_url"],
            "jwks_endpoint": platform["jwks_endpoint"],
            "status": "active",
        }
    ]
    rows += [
        {
            "issuer": f"https://lms{i}.example.edu",
            "client_id": f"client-{i}",
            "name_hint": f"lms{i}",
            "authorize_url": f"https://lms{i}.example.edu/mod/lti/auth.php",
            "jwks_endpoint": f"https://lms{i}.example.edu/mod/lti/certs.php",
            "token_url": f"https://lms{i}.example.edu/mod/lti/token.php",
            "username_prefix": f"lms{i}-",
            "deployment_ids": [str(i)],
            "openid_configuration_url": f"https://lms{i}.example.edu/mod/lti/openid-configuration.php",
            "status": "active",
        }
        for i in range(1, count)
    ]
    store.add_many(rows)
    store.close()


# -- the unrelated-endpoint poller (a process of its own) ---------------------------------


def poller_main(url: str, interval: float) -> None:
    """Poll ``url`` every ``interval`` seconds until a line arrives on stdin; print JSON."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    latencies: List[float] = []
    statuses: Dict[str, int] = {}
    conn: Optional[http.client.HTTPConnection] = None
    next_at = time.perf_counter()
    while not done.is_set():
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        next_at = max(next_at + interval, time.perf_counter())
        start = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", parts.path)
            response = conn.getresponse()
            response.read()
            key = str(response.status)
        except (OSError, http.client.HTTPException) as e:
            key = type(e).__name__
            if conn is not None:
                conn.close()
            conn = None
        latencies.append((time.perf_counter() - start) * 1000)
        statuses[key] = statuses.get(key, 0) + 1
    print(json.dumps({"latencies_ms": latencies, "statuses": statuses}), flush=True)


class Poller:
    def __init__(self, url: str, interval: float):
        self.proc = spawn(
            [sys.executable, str(Path(__file__).resolve()), "--_poll", url, str(interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def finish(self, timeout: float = 60) -> Dict[str, Any]:
        try:
            out, _ = self.proc.communicate("stop\n", timeout=timeout)
        finally:
            stop(self.proc)
        return json.loads(out)


# -- one student's launch ----------------------------------------------------------------


class CookieJar:
    """Name → value, like a browser for one site (hub and emulator share 127.0.0.1)."""

    def __init__(self) -> None:
        self.cookies: Dict[str, str] = {}

    def update(self, headers: Any) -> None:
        for raw in headers.get_list("Set-Cookie"):
            first, _, attributes = raw.partition(";")
            name, _, value = first.strip().partition("=")
            attrs = attributes.lower().replace(" ", "")
            expired = "max-age=0" in attrs or "expires=thu,01jan1970" in attrs
            if expired or value in ("", '""'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def header(self) -> Dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}


@dataclass
class LaunchOutcome:
    ok: bool
    seconds: float
    step: str = ""
    status: int = 0
    detail: str = ""


async def one_launch(client: Any, emulator_url: str, user: str, timeout: float) -> LaunchOutcome:
    from tornado.httpclient import HTTPClientError, HTTPRequest

    jar = CookieJar()

    async def fetch(url: str, method: str = "GET", body: Optional[str] = None) -> Any:
        headers = jar.header()
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = HTTPRequest(
            url,
            method=method,
            body=body,
            headers=headers,
            follow_redirects=False,
            connect_timeout=timeout,
            request_timeout=timeout,
        )
        response = await client.fetch(request, raise_error=False)
        if response.code == 599 and response.error is not None:
            raise response.error
        jar.update(response.headers)
        return response

    start = 0.0
    step = "launch"
    try:
        r = await fetch(f"{emulator_url}/launch?" + urlencode({"user": user, "role": "student"}))
        if r.code != 302:
            return LaunchOutcome(False, 0, step, r.code, r.body[:300].decode(errors="replace"))
        login_url = r.headers["Location"]

        start = time.perf_counter()
        step = "login"
        r = await fetch(login_url)
        if r.code != 302:
            return _fail(start, step, r)
        step = "authorize"
        r = await fetch(urljoin(login_url, r.headers["Location"]))
        if r.code != 200:
            return _fail(start, step, r)
        form = read_auto_submit_form(r.body.decode(), r.effective_url)
        if form is None or "id_token" not in form[1]:
            return _fail(start, step, r, "no launch form")
        step = "callback"
        action, fields = form
        r = await fetch(action, "POST", urlencode(fields))
        elapsed = time.perf_counter() - start
        if r.code != 302:
            return _fail(start, step, r)
        if not any(name.startswith("jupyterhub-hub-login") for name in jar.cookies):
            return LaunchOutcome(False, elapsed, step, r.code, "302 without a hub login cookie")
        return LaunchOutcome(True, elapsed, status=r.code, detail=r.headers.get("Location", ""))
    except (HTTPClientError, OSError, asyncio.TimeoutError) as e:
        return LaunchOutcome(False, time.perf_counter() - start if start else 0, step, 599, repr(e))


def _fail(start: float, step: str, r: Any, detail: str = "") -> LaunchOutcome:
    body = (r.body or b"")[:300].decode(errors="replace")
    return LaunchOutcome(False, time.perf_counter() - start, step, r.code, detail or body)


async def storm(
    emulator_url: str, students: int, concurrency: int, timeout: float
) -> Tuple[List[LaunchOutcome], float]:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True, max_clients=concurrency * 2)
    queue: asyncio.Queue = asyncio.Queue()
    for i in range(students):
        queue.put_nowait(f"student{i}")
    outcomes: List[LaunchOutcome] = []

    async def worker() -> None:
        while True:
            try:
                user = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            outcomes.append(await one_launch(client, emulator_url, user, timeout))

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        client.close()
    return outcomes, time.perf_counter() - start


# -- one measured run --------------------------------------------------------------------


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize_poll(poll: Dict[str, Any]) -> Dict[str, Any]:
    lat = poll["latencies_ms"]
    return {
        "n": len(lat),
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": max(lat) if lat else float("nan"),
        "non_200": sum(v for k, v in poll["statuses"].items() if k != "200"),
        "statuses": poll["statuses"],
    }


def log_findings(log: str) -> Dict[str, Any]:
    lines = log.splitlines()
    loaded = re.search(r"stored registration\(s\) loaded in ([0-9.]+) s", log)
    return {
        "registrations_load_s": float(loaded.group(1)) if loaded else None,
        "error_lines": sum(1 for line in lines if line.startswith("[E ")),
        "warning_lines": sum(1 for line in lines if line.startswith("[W ")),
        "tracebacks": log.count("Traceback (most recent call last)"),
        "http_5xx": sum(1 for line in lines if line.startswith("[E ") and " 50" in line),
        "first_errors": [line[:300] for line in lines if line.startswith("[E ")][:5],
    }


def start_profiler(
    args: argparse.Namespace, stack: Stack, impl: str, latency: float
) -> Optional[subprocess.Popen]:
    """With ``--py-spy PATH``: sample the hub during the storm (collapsed stacks)."""
    if not args.py_spy:
        return None
    out = RESULTS / f"py-spy-{impl}-jwks{latency:g}-{time.strftime('%H%M%S')}.txt"
    print(f"#   profiling hub pid {stack.hub.pid} into {out}", flush=True)
    proc = spawn(
        [
            args.py_spy,
            "record",
            "--format",
            "raw",
            "--rate",
            "200",
            "--pid",
            str(stack.hub.pid),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return proc


def stop_profiler(proc: Optional[subprocess.Popen]) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
    stop(proc)


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Wait (up to ``--quiet-wait`` s) until other processes use < ``--quiet-cores`` CPUs.

    Returns the load (busy cores) seen last. Between runs none of our processes are
    running, so whatever keeps the CPUs busy belongs to someone else.
    """
    deadline = time.monotonic() + args.quiet_wait
    while True:
        b0 = system_busy_seconds()
        time.sleep(1.0)
        busy = system_busy_seconds() - b0
        if busy < args.quiet_cores or time.monotonic() >= deadline:
            if busy >= args.quiet_cores:
                print(
                    f"#   machine still busy ({busy:.2f} cores used by others); running anyway",
                    flush=True,
                )
            return busy
        time.sleep(2.0)


def run_once(args: argparse.Namespace, impl: str, python: str, latency: float) -> Dict[str, Any]:
    background_load = wait_for_quiet(args) if args.quiet_wait > 0 else float("nan")
    workdir = Path(tempfile.mkdtemp(prefix=f"launch-storm-{impl}-"))
    stack = Stack(
        impl,
        python,
        latency,
        workdir,
        log_level=args.hub_log_level,
        auth_state=args.auth_state,
        registrations=args.registrations if impl == "ours" else 0,
    )
    poller: Optional[Poller] = None
    try:
        stack.start()
        poll_url = stack.hub_url + "/hub/api/"
        time.sleep(0.5)  # let start-up work settle
        poller = Poller(poll_url, args.poll_interval)
        time.sleep(args.idle_seconds)
        idle = summarize_poll(poller.finish())

        proxy_pid = stack.proxy_pid()
        cpu0 = cpu_seconds(stack.hub.pid)
        proxy0 = cpu_seconds(proxy_pid) if proxy_pid else 0.0
        emu0 = cpu_seconds(stack.emulator.pid)
        poller = Poller(poll_url, args.poll_interval)
        sys0, self0 = system_busy_seconds(), own_cpu_seconds()
        profiler = start_profiler(args, stack, impl, latency)
        time.sleep(0.1)
        outcomes, wall = asyncio.run(
            asyncio.wait_for(
                storm(stack.emulator_url, args.students, args.concurrency, args.request_timeout),
                args.run_timeout,
            )
        )
        hub_cpu = cpu_seconds(stack.hub.pid) - cpu0
        proxy_cpu = (cpu_seconds(proxy_pid) - proxy0) if proxy_pid else float("nan")
        emulator_cpu = cpu_seconds(stack.emulator.pid) - emu0
        client_cpu = own_cpu_seconds() - self0
        poller_cpu = cpu_seconds(poller.proc.pid)
        system_cpu = system_busy_seconds() - sys0
        during = summarize_poll(poller.finish())
        poller = None
        stop_profiler(profiler)
        stats = stack.emulator_stats()

        ok = [o for o in outcomes if o.ok]
        failed = [o for o in outcomes if not o.ok]
        latencies = [o.seconds * 1000 for o in ok]
        failure_codes: Dict[str, int] = {}
        for o in failed:
            key = f"{o.step}:{o.status}"
            failure_codes[key] = failure_codes.get(key, 0) + 1
        return {
            "impl": impl,
            "jwks_latency": latency,
            "students": args.students,
            "concurrency": args.concurrency,
            "registrations": stack.registrations,
            "hub_start_s": stack.start_seconds,
            "wall_s": wall,
            "launches_per_s": len(ok) / wall if wall else 0.0,
            "launch_p50": percentile(latencies, 50),
            "launch_p95": percentile(latencies, 95),
            "launch_p99": percentile(latencies, 99),
            "launch_max": max(latencies) if latencies else float("nan"),
            "idle": idle,
            "storm": during,
            "jwks_fetches": stats["jwks_fetches"],
            "hub_cpu_s": hub_cpu,
            "hub_cpu_ms_per_launch": hub_cpu * 1000 / max(1, len(outcomes)),
            "proxy_cpu_s": proxy_cpu,
            "emulator_cpu_s": emulator_cpu,
            "client_cpu_s": client_cpu,
            "system_cpu_s": system_cpu,
            # CPU used during the storm by processes that are not part of this benchmark
            # (other jobs on the machine): a run with much of it is noisy.
            "foreign_cpu_s": max(
                0.0,
                system_cpu
                - hub_cpu
                - (proxy_cpu if proxy_cpu == proxy_cpu else 0)
                - emulator_cpu
                - client_cpu
                - poller_cpu,
            ),
            "failures": len(failed),
            "failure_codes": failure_codes,
            "failure_samples": [
                {"step": o.step, "status": o.status, "detail": o.detail[:300]} for o in failed[:5]
            ],
            "next_urls": sorted({o.detail for o in ok})[:3],
            "hub_log": log_findings(stack.hub_log()),
            "background_cores_before": background_load,
            "loadavg_after": open("/proc/loadavg").read().split()[0],
            "workdir": str(workdir),
        }
    finally:
        if poller is not None:
            stop(poller.proc)
        stack.stop()
        if args.keep_workdirs:
            print(f"#   kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- reporting ---------------------------------------------------------------------------


def median_of(runs: List[Dict[str, Any]], path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for part in path.split("."):
            value = value[part]
        values.append(value)
    return statistics.median(values)


METRICS = [
    ("launches/s", "launches_per_s", "{:.1f}"),
    ("launch p50 (ms)", "launch_p50", "{:.0f}"),
    ("launch p95 (ms)", "launch_p95", "{:.0f}"),
    ("launch p99 (ms)", "launch_p99", "{:.0f}"),
    ("unrelated idle p50 (ms)", "idle.p50", "{:.1f}"),
    ("unrelated idle p99 (ms)", "idle.p99", "{:.1f}"),
    ("unrelated idle max (ms)", "idle.max", "{:.1f}"),
    ("unrelated storm p50 (ms)", "storm.p50", "{:.1f}"),
    ("unrelated storm p99 (ms)", "storm.p99", "{:.1f}"),
    ("unrelated storm max (ms)", "storm.max", "{:.1f}"),
    ("unrelated storm non-200", "storm.non_200", "{:.0f}"),
    ("JWKS fetches", "jwks_fetches", "{:.0f}"),
    ("hub CPU during storm (s)", "hub_cpu_s", "{:.2f}"),
    ("hub CPU per launch (ms)", "hub_cpu_ms_per_launch", "{:.1f}"),
    ("proxy CPU during storm (s)", "proxy_cpu_s", "{:.2f}"),
    ("emulator CPU during storm (s)", "emulator_cpu_s", "{:.2f}"),
    ("benchmark client CPU (s)", "client_cpu_s", "{:.2f}"),
    ("other processes' CPU (s)", "foreign_cpu_s", "{:.2f}"),
    ("hub log ERROR lines", "hub_log.error_lines", "{:.0f}"),
    ("launch failures", "failures", "{:.0f}"),
]


def run_line(r: Dict[str, Any]) -> str:
    return (
        f"#   {r['impl']:<11} jwks={r['jwks_latency']:<4} {r['launches_per_s']:7.1f} launches/s  "
        f"p50/p95/p99 {r['launch_p50']:.0f}/{r['launch_p95']:.0f}/{r['launch_p99']:.0f} ms  "
        f"unrelated idle p99 {r['idle']['p99']:.1f} max {r['idle']['max']:.1f} | storm p99 "
        f"{r['storm']['p99']:.1f} max {r['storm']['max']:.1f} ms  fetches {r['jwks_fetches']}  "
        f"hub CPU {r['hub_cpu_s']:.2f}s  other procs CPU {r['foreign_cpu_s']:.1f}s/"
        f"{r['wall_s']:.1f}s wall  failures {r['failures']}"
        + (f" {r['failure_codes']}" if r["failures"] else "")
        + f"  hub start {r['hub_start_s']:.2f}s"
        + (
            f"  stored registrations {r['registrations']} "
            f"(loaded in {r['hub_log']['registrations_load_s']} s)"
            if r["registrations"]
            else ""
        )
    )


def table(
    latency: float, by_impl: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace
) -> str:
    impls = [i for i in ("ours", "established") if by_impl.get(i)]
    rounds = len(by_impl[impls[0]])
    out = [
        "",
        f"== JWKS latency {latency:g} s — {args.students} students, concurrency "
        f"{args.concurrency}, median of {rounds} round(s) ==",
        f"{'':32}" + "".join(f"{i:>14}" for i in impls),
    ]
    for label, path, fmt in METRICS:
        cells = "".join(f"{fmt.format(median_of(by_impl[i], path)):>14}" for i in impls)
        out.append(f"{label:32}{cells}")
    for impl in impls:
        for r in by_impl[impl]:
            if r["failures"]:
                out.append(f"  {impl} failures by step:status {r['failure_codes']}")
                for sample in r["failure_samples"][:3]:
                    out.append(f"    {sample}")
            if r["hub_log"]["error_lines"]:
                out.append(f"  {impl} hub log errors: {r['hub_log']['first_errors'][:3]}")
    if len(impls) == 2:
        ours, est = by_impl["ours"], by_impl["established"]

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}x" if b else "n/a"

        out += [
            "ratios (ours vs established, medians):",
            "  launches/s ours/established:        "
            + ratio(median_of(ours, "launches_per_s"), median_of(est, "launches_per_s")),
            "  launch p99 established/ours:        "
            + ratio(median_of(est, "launch_p99"), median_of(ours, "launch_p99")),
            "  unrelated storm p99 established/ours: "
            + ratio(median_of(est, "storm.p99"), median_of(ours, "storm.p99")),
            "  unrelated storm max established/ours: "
            + ratio(median_of(est, "storm.max"), median_of(ours, "storm.max")),
            "  hub CPU per launch established/ours: "
            + ratio(
                median_of(est, "hub_cpu_ms_per_launch"), median_of(ours, "hub_cpu_ms_per_launch")
            ),
            f"  JWKS fetches per storm: ours {median_of(ours, 'jwks_fetches'):.0f}, "
            f"established {median_of(est, 'jwks_fetches'):.0f}",
        ]
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3, help="runs per configuration (median shown)")
    p.add_argument(
        "--jwks-latency",
        default="0.1",
        help="comma-separated seconds the platform's JWKS endpoint takes, e.g. 0,0.1,0.5",
    )
    p.add_argument(
        "--compare", action="store_true", help="also run jupyterhub-ltiauthenticator 1.6.3"
    )
    p.add_argument("--established-venv", type=Path, default=ESTABLISHED_VENV)
    p.add_argument("--poll-interval", type=float, default=0.02)
    p.add_argument("--idle-seconds", type=float, default=3.0)
    p.add_argument("--request-timeout", type=float, default=120.0, help="per HTTP request")
    p.add_argument("--run-timeout", type=float, default=900.0, help="bound on one storm")
    p.add_argument("--hub-log-level", default="INFO")
    p.add_argument("--auth-state", action="store_true", help="enable_auth_state (encrypts it)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        help="before each run, wait up to this many seconds for other jobs to calm down",
    )
    p.add_argument(
        "--quiet-cores",
        type=float,
        default=0.3,
        help="'calm' means other processes use fewer CPU cores than this",
    )
    p.add_argument(
        "--ours-ref",
        default="HEAD",
        help="git ref of our package to benchmark (snapshot), or WORKTREE",
    )
    p.add_argument(
        "--registrations",
        type=int,
        default=0,
        help="keep the platform in the registration store with N-1 other registrations "
        "(ours only; 0: the platform is configured)",
    )
    p.add_argument("--keep-workdirs", action="store_true")
    p.add_argument("--py-spy", help="path to py-spy: sample the hub during each storm")
    p.add_argument("--output", type=Path, help="text report (default: benchmarks/results/…)")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    global _OURS_PATH
    args = parse_args(argv)
    _OURS_PATH, ours_source = snapshot_ours(args.ours_ref)
    latencies = [float(x) for x in args.jwks_latency.split(",") if x.strip()]
    impls = [("ours", sys.executable)]
    if args.compare:
        impls.append(("established", established_python(args.established_venv)))

    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    text_path = args.output or RESULTS / f"launch_storm-{stamp}.txt"
    json_path = text_path.with_suffix(".json")
    lines: List[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    emit(
        f"# launch storm: {args.students} students, concurrency {args.concurrency}, "
        f"{args.rounds} round(s), JWKS latency {latencies}, implementations "
        f"{[i for i, _ in impls]}; poll /hub/api/ every {args.poll_interval * 1000:.0f} ms; "
        f"{os.cpu_count()} CPUs; ours = {ours_source}"
    )
    all_runs: List[Dict[str, Any]] = []
    summaries = []
    for latency in latencies:
        by_impl: Dict[str, List[Dict[str, Any]]] = {name: [] for name, _ in impls}
        for _ in range(args.rounds):
            for name, python in impls:  # alternate: ours, established, ours, established…
                result = run_once(args, name, python, latency)
                by_impl[name].append(result)
                all_runs.append(result)
                emit(run_line(result))
        summary = table(latency, by_impl, args)
        summaries.append(summary)
        emit(summary)
    total_failures = sum(r["failures"] for r in all_runs)
    emit(f"\n# total launch failures: {total_failures}")
    text_path.write_text("\n".join(lines) + "\n")
    json_path.write_text(
        json.dumps(
            {
                "args": vars(args)
                | {"output": str(text_path), "established_venv": str(args.established_venv)},
                "runs": all_runs,
            },
            indent=1,
            default=str,
        )
    )
    print(f"# saved {text_path} and {json_path}", flush=True)
    return 1 if total_failures else 0


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--_poll":
        poller_main(sys.argv[2], float(sys.argv[3]))
        sys.exit(0)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    finally:
        stop_all()
        if _OURS_PATH:
            shutil.rmtree(_OURS_PATH, ignore_errors=True)
