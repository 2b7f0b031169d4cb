"""Shared fixtures: the platform emulator, real JupyterHubs, a cookie-keeping client."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import pytest

from .support.client import LaunchClient
from .support.emulator import EmulatorServer
from .support.hub import Hub, free_port

CLIENT_ID = "jupyterhub-tool"


def render_config(config: Dict[str, Dict[str, Any]]) -> str:
    """``{"LTI13Authenticator": {"issuer": ...}}`` → ``c.LTI13Authenticator.issuer = ...``."""
    return "".join(
        f"c.{cls}.{trait} = {value!r}\n"
        for cls, traits in config.items()
        for trait, value in traits.items()
    )


class HubPool:
    """Keeps one hub running at a time; a test asking for another config restarts it."""

    def __init__(self, workdir: Path, port: int, make_hub: Callable[..., Hub] = Hub):
        self.workdir = workdir
        self.port = port
        self.make_hub = make_hub
        self.current: Optional[Hub] = None
        self._key: Optional[str] = None
        self._names = itertools.count()

    def get(self, config: str) -> Hub:
        if self.current is not None and self._key == config:
            return self.current
        self.stop()
        name = f"hub{next(self._names)}"
        self.current = self.make_hub(self.port, self.workdir, config, name).start()
        self._key = config
        return self.current

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="session")
def hub_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def emulator(hub_port: int) -> Iterator[EmulatorServer]:
    server = EmulatorServer("localhost", free_port(), hub_url=f"http://127.0.0.1:{hub_port}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hub_pool(tmp_path_factory: pytest.TempPathFactory, hub_port: int) -> Iterator[HubPool]:
    pool = HubPool(tmp_path_factory.mktemp("hubs"), hub_port)
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def base_auth_config(emulator: EmulatorServer) -> Dict[str, Dict[str, Any]]:
    return {
        "LTI13Authenticator": {
            "issuer": emulator.url,
            "client_id": [CLIENT_ID],
            "authorize_url": emulator.authorize_url,
            "jwks_endpoint": emulator.jwks_url,
        }
    }


@pytest.fixture
def hub_with(hub_pool: HubPool, base_auth_config: Dict[str, Dict[str, Any]]):
    """Factory: a running hub whose config is the base config updated with ``overrides``."""

    def start(**overrides: Dict[str, Any]) -> Hub:
        config = {cls: dict(traits) for cls, traits in base_auth_config.items()}
        for cls, traits in overrides.items():
            config.setdefault(cls, {}).update(traits)
        return hub_pool.get(render_config(config))

    return start


@pytest.fixture
def hub(hub_with) -> Hub:
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
