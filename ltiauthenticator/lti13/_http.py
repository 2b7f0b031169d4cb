"""Reading answers from URLs a request named: at most a bounded number of bytes.

Both the key fetcher and dynamic registration fetch from URLs that came from outside
(a platform's configuration, a registration request). tornado buffers whole bodies by
default; streaming into a :class:`BoundedBody` keeps at most ``limit`` bytes in memory and
remembers that more came, so the caller can refuse the answer as too large.
"""

from __future__ import annotations


class BoundedBody:
    """A ``streaming_callback`` (and ``header_callback``) keeping at most ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.too_large = False

    def on_chunk(self, chunk: bytes) -> None:
        if len(self.data) + len(chunk) > self.limit:
            self.too_large = True
        elif not self.too_large:
            self.data.extend(chunk)

    def on_header(self, line: str) -> None:
        """A declared ``Content-Length`` over the limit is too large before any byte."""
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            if int(value) > self.limit:
                self.too_large = True

    def __bytes__(self) -> bytes:
        return bytes(self.data)
