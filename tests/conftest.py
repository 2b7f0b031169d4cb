"""Shared fixtures: the platform emulator, a real JupyterHub, a cookie-keeping client.

One JupyterHub runs in this process for the whole session (see
:mod:`tests.support.inprocess`); ``hub_with(**overrides)`` changes its authenticator's
configuration for one test and restores it afterwards. Overrides a running hub cannot
take (``JupyterHub.*`` settings, ``allow_iframe``) get a hub process of their own, one
per configuration, started once.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Union

import pytest

from ltiauthenticator.platform_emulator import EmulatedPlatform

from .support.client import LaunchClient
from .support.emulator import EmulatorServer
from .support.hub import GRADER_HUB_CONFIG, Hub, HubPool, free_port
from .support.keys import KeyPool
from .support.postgres import fresh_postgres_url, postgres_server, postgres_url  # noqa: F401

CLIENT_ID = "jupyterhub-tool"

if TYPE_CHECKING:
    # imported where used: it imports JupyterHub (1 s), which xdist's controller
    # process, loading this file before it starts the workers, does not need
    from .support.inprocess import InProcessHub

AnyHub = Union[Hub, "InProcessHub"]

#: Under pytest-xdist (``make test`` runs ``-n 2 --dist loadfile``) each test file is a
#: unit of work for one worker, so a module's fixtures start once. These units come
#: first, longest first (about the seconds each takes under ``make test``), so that what
#: is left for the end is short and both workers finish at about the same time; the
#: files that share processes started once (the https hubs and browsers of tests/browser,
#: the demo: package fixtures) are one unit each. The unit a test file belongs to is that
#: of the first prefix it starts with. The other files follow in collection order, which
#: leaves tests/unit, the quickest, for the end.
XDIST_FIRST_UNITS = (
    ("tests/browser/", "browser"),  # ~38 s
    ("tests/demo/test_demo_browser.py", "demo"),  # ~37 s with the next file
    ("tests/demo/test_demo_deep_linking.py", "demo"),
    ("tests/flow/test_deep_linking.py", "flow deep linking"),  # ~16 s
    ("tests/unit/test_registration_store.py", "registration store"),  # ~14 s
    ("tests/docs/test_install_page.py", "install page"),  # ~13 s warm, 70 s or more cold
    ("tests/flow/test_dynamic_registration_restart.py", "registration restarts"),  # ~13 s
    ("tests/docs/test_docs_build.py", "docs build"),  # ~9 s
    ("tests/flow/test_hostile_input.py", "hostile input"),  # ~7 s
    ("tests/lti11/test_migration.py", "lti11 migration"),  # ~7 s
    ("tests/lti11/test_launch.py", "lti11 launch"),  # ~7 s
    ("tests/flow/test_grades_tools.py", "grades tools"),  # ~6.5 s
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the units of ``XDIST_FIRST_UNITS`` (other modes: xdist's)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    # xdist's default order, most tests first, would leave single slow tests for the end
    config.option.loadscopereorder = False

    # xdist 3's LoadScopeScheduling: _split_scope names a node id's unit, and workqueue
    # holds the units not sent to a worker yet, in the order they will be sent
    class FirstUnitsFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next(
                (unit for prefix, unit in XDIST_FIRST_UNITS if path.startswith(prefix)), path
            )

        def _assign_work_unit(self, node: Any) -> None:
            for unit in reversed(first_units):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    from .support.install_cache import kept_venv_ready

    first_units = list(dict.fromkeys(unit for _, unit in XDIST_FIRST_UNITS))
    if not kept_venv_ready():  # a fresh clone: the install page's virtualenv is made first
        first_units.remove("install page")
        first_units.insert(0, "install page")

    return FirstUnitsFirst(config, log)


def render_config(config: Dict[str, Dict[str, Any]]) -> str:
    """``{"LTI13Authenticator": {"issuer": ...}}`` → ``c.LTI13Authenticator.issuer = ...``."""
    return "".join(
        f"c.{cls}.{trait} = {value!r}\n"
        for cls, traits in config.items()
        for trait, value in traits.items()
    )


def merged(
    base: Dict[str, Dict[str, Any]], overrides: Dict[str, Dict[str, Any]]
) -> Dict[str, Dict[str, Any]]:
    config = {cls: dict(traits) for cls, traits in base.items()}
    for cls, traits in overrides.items():
        config.setdefault(cls, {}).update(traits)
    return config


@pytest.fixture(scope="session", autouse=True)
def _pooled_platform_keys() -> Iterator[None]:
    """Emulated platforms take their signing keys from :class:`KeyPool`."""
    original = EmulatedPlatform.__dict__["key_source"]
    EmulatedPlatform.key_source = staticmethod(KeyPool().take)
    yield
    EmulatedPlatform.key_source = original


@pytest.fixture(scope="session")
def _session_platform() -> Iterator[EmulatorServer]:
    """The emulated LMS; the tool it launches into is set once the hub runs."""
    server = EmulatorServer("localhost", free_port(), hub_url="http://127.0.0.1:1")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_auth_config(_session_platform: EmulatorServer) -> Dict[str, Dict[str, Any]]:
    return {
        "LTI13Authenticator": {
            "issuer": _session_platform.url,
            "client_id": [CLIENT_ID],
            "authorize_url": _session_platform.authorize_url,
            "jwks_endpoint": _session_platform.jwks_url,
        }
    }


#: What the in-process hub reads at start-up only, given at its start so that no test
#: needs a hub process for it:
#: - the grades API's routes (registered when enable_grades is on at start-up; it is
#:   turned off again right after) and its custom scope;
#: - for the tests that start a user's server: this virtualenv's single-user server (as
#:   root too), a full clone by nbgitpuller (the tests' git server speaks git's dumb HTTP
#:   protocol, which cannot make shallow clones), and the start request answered at once
#:   (202): those tests wait for the server to be ready.
IN_PROCESS_START_UP = merged(
    GRADER_HUB_CONFIG,
    {
        "LTI13Authenticator": {"enable_grades": True},
        "Spawner": {
            "cmd": [sys.executable, "-m", "jupyterhub.singleuser"],
            "args": ["--allow-root"] if os.geteuid() == 0 else [],
            "environment": {"NBGITPULLER_DEPTH": "0"},
        },
        "JupyterHub": {"tornado_settings": {"slow_spawn_timeout": 0}},
    },
)


@pytest.fixture(scope="session")
def session_hub(
    tmp_path_factory: pytest.TempPathFactory,
    _session_platform: EmulatorServer,
    base_auth_config: Dict[str, Dict[str, Any]],
) -> Iterator[InProcessHub]:
    """The in-process hub, started once, with the base configuration.

    Other engineers' test runs share this machine's ports: a start that lost a port to
    one of them is retried on fresh ports. Grades are off for tests, as by default; a test
    turns them on with ``hub_with(LTI13Authenticator={"enable_grades": True, ...})``.
    """
    from .support.inprocess import InProcessHub

    config = render_config(merged(base_auth_config, IN_PROCESS_START_UP))
    failures = []
    for _ in range(3):
        hub = InProcessHub(free_port(), tmp_path_factory.mktemp("hub"), config)
        try:
            hub.start()
            break
        except RuntimeError as e:
            failures.append(e)
    else:
        raise RuntimeError(f"the in-process hub did not start: {failures}")
    hub.call(lambda: setattr(hub.authenticator, "enable_grades", False))
    with _session_platform.launching_into(hub.url):
        yield hub
        hub.stop()


@pytest.fixture(scope="session")
def hub_port(session_hub: InProcessHub) -> int:
    return session_hub.port


@pytest.fixture(scope="session")
def emulator(_session_platform: EmulatorServer, session_hub: InProcessHub) -> EmulatorServer:
    """The emulated LMS, registered with the session's hub."""
    return _session_platform


@pytest.fixture(scope="session")
def hub_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubPool]:
    """Hub processes for configurations the in-process hub cannot take."""
    pool = HubPool(tmp_path_factory.mktemp("hubs"))
    yield pool
    pool.stop()


@pytest.fixture
def hub_with(
    request: pytest.FixtureRequest,
    session_hub: InProcessHub,
    emulator: EmulatorServer,
    base_auth_config: Dict[str, Dict[str, Any]],
) -> Iterator[Callable[..., AnyHub]]:
    """Factory: a running hub whose config is the base config updated with ``overrides``.

    Overrides apply to the in-process hub for this test only (each call replaces the
    previous call's). The returned hub's ``log_text()`` holds what it logged during this
    test.
    """
    from .support.inprocess import needs_own_process

    undo: List[Callable[[], None]] = []
    started: List[AnyHub] = []

    def reset() -> None:
        while undo:
            undo.pop()()

    def start(**overrides: Dict[str, Any]) -> AnyHub:
        reset()
        if needs_own_process(overrides):
            hub: AnyHub = request.getfixturevalue("hub_pool").get(
                render_config(merged(base_auth_config, overrides))
            )
            # the emulator launches into that hub while this test runs
            redirect = emulator.launching_into(hub.url)
            redirect.__enter__()
            undo.append(lambda: redirect.__exit__(None, None, None))
        else:
            hub = session_hub
            undo.append(session_hub.override(overrides))
        if hub not in started:
            hub.begin_test()
            started.append(hub)
        return hub

    yield start
    reset()
    for hub in started:
        hub.end_test()


@pytest.fixture
def hub(hub_with: Callable[..., AnyHub]) -> AnyHub:
    """A hub with the default configuration: one issuer, one client id, email usernames."""
    return hub_with()


@pytest.fixture
def client() -> LaunchClient:
    return LaunchClient()


_users = itertools.count()


@pytest.fixture
def user() -> str:
    """A username no other test uses (the hub's database outlives a test)."""
    return f"user{next(_users)}x{secrets.token_hex(3)}"


@pytest.fixture
def own_emulator(hub_port: int) -> Iterator[EmulatorServer]:
    """A platform of this test's own, for tests that rotate its keys or break its JWKS."""
    server = EmulatorServer("127.0.0.1", free_port(), hub_url=f"http://127.0.0.1:{hub_port}")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_platform_hub(hub_with: Callable[..., AnyHub], own_emulator: EmulatorServer):
    """Factory: the hub, registered with ``own_emulator`` only (plus ``overrides``)."""

    def start(**overrides: Dict[str, Any]) -> AnyHub:
        registration = {
            "issuer": own_emulator.url,
            "authorize_url": own_emulator.authorize_url,
            "jwks_endpoint": own_emulator.jwks_url,
        }
        auth = {**registration, **overrides.pop("LTI13Authenticator", {})}
        return hub_with(LTI13Authenticator=auth, **overrides)

    return start
