"""A real JupyterHub inside the test process, on an event loop in a thread of its own.

Started once per session: tests reach it over real HTTP (through configurable-http-proxy,
as before) and change its authenticator's traits for one test instead of restarting a
hub per configuration (see :meth:`InProcessHub.override`). Coverage of the
authenticator's code is collected naturally, since it runs in this process.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
from jupyterhub.app import JupyterHub

from ltiauthenticator._localhub import loopback_hub_config
from ltiauthenticator.lti13._jwks import JWKSCache

from .hub import BASE_CONFIG, HubAPI, find_proxy

#: Config sections the in-process hub can change for one test, and where they live.
RUNTIME_SECTIONS = ("LTI13Authenticator", "Authenticator", "LTI13LaunchValidator", "JWKSCache")

#: Traits read once at start-up (they patch the tornado application): a test that
#: changes one of them needs a hub process of its own.
STARTUP_ONLY_TRAITS = {"allow_iframe"}


def needs_own_process(overrides: Dict[str, Dict[str, Any]]) -> bool:
    """Whether ``overrides`` cannot be applied to a running hub."""
    for section, traits in overrides.items():
        if section not in RUNTIME_SECTIONS:
            return True
        if any(traits.get(name) for name in STARTUP_ONLY_TRAITS):
            return True
    return False


class ThreadedJupyterHub(JupyterHub):
    """JupyterHub, minus what only the main thread of a hub process may do."""

    #: Where the whole log goes (for a human reading a failure), set before start.
    log_path: Optional[Path] = None

    def init_signal(self) -> None:
        """Signals belong to pytest's main thread; the tests stop the hub themselves."""

    def init_logging(self) -> None:
        super().init_logging()
        # the hub logs into a file, not onto pytest's terminal between tests
        formatter = self._log_formatter_cls(fmt=self.log_format, datefmt=self.log_datefmt)
        for handler in list(self.log.handlers):
            self.log.removeHandler(handler)
        if self.log_path is not None:
            handler = logging.FileHandler(self.log_path, encoding="utf8")
            handler.setFormatter(formatter)
            self.log.addHandler(handler)


class _TestLog(logging.Handler):
    """Collects the hub thread's log records while one test runs."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.DEBUG)
        self.thread_id = thread_id
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # other threads (the emulator, key cache tests) share tornado's loggers
        if record.thread == self.thread_id:
            self.records.append(record)


class InProcessHub(HubAPI):
    """One JupyterHub application served from a background thread of this process.

    Same reading API as :class:`tests.support.hub.Hub` (``url``, ``api()``, ``user()``,
    ``user_count()``, ``log_text()``, ``token``, ``verify``) plus ``app``,
    ``authenticator``, :meth:`call` and :meth:`override`.
    """

    def __init__(self, port: int, workdir: Path, config: str = "", name: str = "inprocess"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.name = name
        self.token = secrets.token_hex(16)
        self.config = config
        self.log_path = workdir / f"{name}.log"
        self.app: Optional[ThreadedJupyterHub] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._failure: Optional[BaseException] = None
        self._test_log: Optional[_TestLog] = None

    def config_text(self) -> str:
        return (
            loopback_hub_config(self.port, self.workdir, find_proxy(), db="hub.sqlite")
            + BASE_CONFIG.format(token=self.token)
            # auth_state needs an encryption key; a subprocess hub reads it from the env
            + f"c.CryptKeeper.keys = [{secrets.token_bytes(32)!r}]\n"
            # relative paths would be relative to pytest's working directory
            + f"c.LTI13Authenticator.tool_private_key_file = "
            f"{str(self.workdir / 'lti13_tool_key.pem')!r}\n" + self.config
        )

    # -- life cycle ------------------------------------------------------------------

    def start(self, timeout: float = 60) -> InProcessHub:
        config_path = self.workdir / f"{self.name}_config.py"
        config_path.write_text(self.config_text())
        self._thread = threading.Thread(
            target=self._run, args=(config_path,), daemon=True, name="jupyterhub"
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"JupyterHub did not start in {timeout}s:\n{self._log_tail()}")
        if self._failure is not None:
            raise RuntimeError(
                f"JupyterHub failed at start-up ({self._failure!r}):\n{self._log_tail()}"
            ) from self._failure
        if not self._answers():
            # e.g. another process took the public port between free_port() and the
            # proxy's start: JupyterHub does not notice
            self.stop()
            raise RuntimeError(f"JupyterHub started but {self.url} is not it")
        return self

    def _answers(self) -> bool:
        """Whether this hub (its API, through the proxy) answers at ``url``."""
        try:
            response = self.api("GET", "/", auth=False)
            return response.status_code == 200 and "version" in response.json()
        except (requests.RequestException, ValueError):
            return False

    def _run(self, config_path: Path) -> None:
        self._loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            ThreadedJupyterHub.log_path = self.log_path
            self.app = app = ThreadedJupyterHub.instance()
            app.config_file = str(config_path)
            loop.run_until_complete(app.initialize([]))
            loop.run_until_complete(app.start())
        except BaseException as e:  # SystemExit from app.exit() included
            self._failure = e
            self._clean_up_failed_start(loop)
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()

    def _clean_up_failed_start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop what a failed start left running (the proxy), so a retry starts clean."""
        if self.app is not None:
            try:
                loop.run_until_complete(self.app.cleanup())
            except Exception:  # noqa: S110 - best effort: the start failed already
                pass
        ThreadedJupyterHub.clear_instance()

    def stop(self) -> None:
        if self.app is None or self._loop is None or self._failure is not None:
            return
        app, loop = self.app, self._loop
        try:
            asyncio.run_coroutine_threadsafe(app.cleanup(), loop).result(30)
        finally:
            if app.http_server is not None:
                loop.call_soon_threadsafe(app.http_server.stop)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            ThreadedJupyterHub.clear_instance()

    def _log_tail(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]

    # -- running code on the hub's loop ---------------------------------------------

    def call(self, function: Callable[[], Any], timeout: float = 30) -> Any:
        """Run ``function`` on the hub's event loop thread and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    @property
    def authenticator(self) -> Any:
        assert self.app is not None
        return self.app.authenticator

    # -- per-test configuration -------------------------------------------------------

    def override(self, overrides: Dict[str, Dict[str, Any]]) -> Callable[[], None]:
        """Apply config ``overrides`` to the running hub; return what undoes them.

        ``LTI13Authenticator`` / ``Authenticator`` traits are set on the authenticator,
        ``LTI13LaunchValidator`` traits on its validator; every call installs a fresh
        key cache (with the ``JWKSCache`` traits given), so no test sees keys another
        test fetched. Afterwards the start-up configuration check runs, as at a start.
        """
        return self.call(lambda: self._override(overrides))

    def _override(self, overrides: Dict[str, Dict[str, Any]]) -> Callable[[], None]:
        auth = self.authenticator
        undo: List[Tuple[Any, str, Any]] = []
        if auth.has_trait("allow_all"):
            # its default follows allowed_users and is computed when first read: read it
            # before an override changes allowed_users (JupyterHub 4 never read it at
            # start-up, so the value undo restored was the overridden one)
            auth.allow_all  # noqa: B018

        def set_trait(target: Any, name: str, value: Any) -> None:
            if not target.has_trait(name):
                raise AttributeError(f"{type(target).__name__} has no trait {name!r}")
            undo.append((target, name, getattr(target, name)))
            setattr(target, name, value)

        for section, traits in overrides.items():
            if section == "JWKSCache":
                continue
            target = auth.validator if section == "LTI13LaunchValidator" else auth
            for name, value in traits.items():
                set_trait(target, name, value)
        authenticator_traits = {
            **overrides.get("Authenticator", {}),
            **overrides.get("LTI13Authenticator", {}),
        }
        # allow_all's default depends on allowed_users, and was computed above
        if (
            {"allowed_users", "allowed_groups"} & set(authenticator_traits)
            and "allow_all" not in authenticator_traits
            and auth.has_trait("allow_all")
        ):
            set_trait(auth, "allow_all", auth._default_allow_all())
        key_cache = JWKSCache(parent=auth, **overrides.get("JWKSCache", {}))
        set_trait(auth, "key_cache", key_cache)
        set_trait(auth.validator, "key_cache", key_cache)

        def restore() -> None:  # (the tool key traits reload the keys when they change)
            for target, name, value in reversed(undo):
                setattr(target, name, value)

        try:
            auth.check_configuration()
        except Exception:
            restore()
            raise
        return lambda: self.call(restore)

    # -- per-test log ---------------------------------------------------------------

    def begin_test(self) -> None:
        """Start collecting the hub's log for one test (``log_text`` shows only that)."""
        assert self.app is not None and self._thread is not None
        self.end_test()
        self._test_log = _TestLog(self._thread.ident or 0)
        self.app.log.addHandler(self._test_log)

    def end_test(self) -> None:
        if self._test_log is not None and self.app is not None:
            self.app.log.removeHandler(self._test_log)
        self._test_log = None

    def log_text(self) -> str:
        """What the hub logged since the current test began."""
        if self._test_log is None or self.app is None:
            return ""
        # a request's access-log line is written after its response was sent: let the
        # hub's loop finish what it is doing first
        self.call(lambda: None)
        formatter = self.app.log.handlers[0].formatter if self.app.log.handlers else None
        formatter = formatter or logging.Formatter("[%(levelname)s %(name)s] %(message)s")
        return "\n".join(formatter.format(r) for r in list(self._test_log.records)) + "\n"
