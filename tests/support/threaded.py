"""Servers on a loopback port, each from a thread of its own: a tornado application, or
an ``http.server`` handler standing in for some other program."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional, Tuple, Type

from tornado import web

from ltiauthenticator._localhub import HOST, free_port


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


@contextmanager
def serving(handler: Type[BaseHTTPRequestHandler]) -> Iterator[Tuple[int, str]]:
    """``handler`` served on a free loopback port: ``(port, url)``."""
    server = ThreadingHTTPServer((HOST, free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class ForeignProxyAPI(BaseHTTPRequestHandler):
    """Another hub's proxy API: 403 for a token that is not its own."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass
