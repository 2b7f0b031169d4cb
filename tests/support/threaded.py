"""A tornado application served on a loopback port from a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Optional

from tornado import web


class ThreadedApp:
    """Serve :meth:`make_app` on ``127.0.0.1:port``; ``start()`` returns once it listens."""

    def __init__(self, port: int, name: str) -> None:
        self.port = port
        self._name = name
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def make_app(self) -> web.Application:
        raise NotImplementedError

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        server = self.make_app().listen(self.port, address="127.0.0.1")
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.stop()

    def start(self):  # -> the subclass
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{self._name} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
