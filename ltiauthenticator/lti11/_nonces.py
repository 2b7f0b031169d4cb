"""A bounded, expiring record of the OAuth nonces already accepted.

OAuth 1.0a refuses a second request with the same nonce, timestamp and consumer key
(RFC 5849, section 3.3). A timestamp is only accepted within ``TIMESTAMP_WINDOW`` seconds
of the hub's clock, so a nonce only needs remembering until its timestamp has left that
window: at most twice the window after it was recorded. Older entries are dropped.

The record is also bounded in size. The validator records a nonce only after the launch
signature has been verified, so only a holder of a consumer secret can add entries; an
anonymous flood of launches never reaches this record. Past ``max_entries`` the oldest
entries are dropped first. Dropping one re-opens a replay of that launch for the rest of
its window, which matters little: filling the record takes ``max_entries`` signed
launches within a minute, and whoever can sign launches does not need to replay any.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Callable

from .constants import TIMESTAMP_WINDOW

#: Default size: room for about 800 signed launches a second, sustained for a minute
#: (far above what one hub logs in), in about 13 MB (some 250 bytes an entry).
DEFAULT_MAX_ENTRIES = 50_000


class NonceStore:
    """Remembers ``(consumer key, timestamp, nonce)`` triples for ``ttl`` seconds.

    Entries are 16-byte digests, whatever the size of the values, and all live for the
    same ``ttl``, so insertion order is expiry order and pruning is cheap.
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: float = 2 * TIMESTAMP_WINDOW + 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.ttl = ttl
        self.clock = clock
        #: How many entries were dropped to respect ``max_entries`` (not by expiry).
        self.evicted = 0
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        # A hub serves requests on one event loop; the lock is for validators used
        # from threads (a subclass, a test), so the check-then-add stays atomic.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @staticmethod
    def _key(consumer_key: str, timestamp: str, nonce: str) -> bytes:
        # Length prefixes keep ("a", "bc") and ("ab", "c") apart.
        parts = (consumer_key, timestamp, nonce)
        raw = b"".join(len(p).to_bytes(4, "big") + p.encode("utf-8") for p in parts)
        return hashlib.sha256(raw).digest()[:16]

    def _prune(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest_key, expires_at = next(iter(entries.items()))
            if expires_at > now:
                return
            del entries[oldest_key]

    def use(self, consumer_key: str, timestamp: str, nonce: str) -> bool:
        """Record the triple; False when it was recorded before (a replay)."""
        key = self._key(consumer_key, timestamp, nonce)
        with self._lock:
            now = self.clock()
            self._prune(now)
            if key in self._entries:
                return False
            self._entries[key] = now + self.ttl
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evicted += 1
            return True
