"""Run the platform emulator on a real loopback port, in a thread of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from ltiauthenticator.platform_emulator import EmulatedPlatform, ToolRegistration, make_app


def tool_registration(client_id: str, hub_url: str) -> ToolRegistration:
    """The tool as the platform registered it: JupyterHub at ``hub_url``."""
    return ToolRegistration(
        client_id=client_id,
        login_url=f"{hub_url}/hub/lti13/oauth_login",
        redirect_uris=[f"{hub_url}/hub/lti13/oauth_callback"],
        target_link_uri=f"{hub_url}/hub/",
    )


class EmulatorServer:
    """An :class:`EmulatedPlatform` served over HTTP on ``host:port`` from a thread.

    Tests read and change the platform object directly (its JWKS latency, keys…) and
    talk to it over HTTP like a browser would.
    """

    def __init__(
        self,
        host: str,
        port: int,
        hub_url: str,
        client_id: str = "jupyterhub-tool",
        issuer: Optional[str] = None,
    ):
        self.url = f"http://{host}:{port}"
        self.port = port
        tool = tool_registration(client_id, hub_url)
        self.platform = EmulatedPlatform(issuer or self.url, tool)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"emulator-{port}")

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    @contextmanager
    def launching_into(self, hub_url: str) -> Iterator[None]:
        """For a while, the registered tool is the hub at ``hub_url`` (another hub)."""
        tool = self.platform.tool
        self.platform.tool = dataclasses.replace(
            tool_registration(tool.client_id, hub_url), deployment_id=tool.deployment_id
        )
        try:
            yield
        finally:
            self.platform.tool = tool

    def start(self) -> EmulatorServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the platform emulator did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        server = make_app(self.platform).listen(self.port, address="127.0.0.1")
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.stop()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.platform, name)


def registration(server: EmulatorServer, **extra: Any) -> Dict[str, Any]:
    """A ``platforms`` entry for ``server`` (plus ``extra`` keys)."""
    return {
        "issuer": server.platform.issuer,
        "client_id": server.platform.tool.client_id,
        "authorize_url": server.authorize_url,
        "jwks_endpoint": server.jwks_url,
        **extra,
    }
