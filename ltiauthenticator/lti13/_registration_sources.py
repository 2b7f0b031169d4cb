"""Where registrations come from: the configuration, and the registration store.

:class:`RegistrationSources` is the one place the authenticator asks for its
:class:`~._registration.PlatformRegistry`. It merges the configured registrations with
the stored (dynamically made) ones, configured first, and serves the result from memory:
a launch never waits on the database. The stored part is reloaded when the hub itself
changes the store, and when another process did (a cheap change counter is polled).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Optional, Sequence, Set, Tuple, TypeVar

from ._registration import PlatformRegistration, PlatformRegistry
from ._registration_store import RegistrationStore, StoredRegistration

T = TypeVar("T")


def from_stored(stored: StoredRegistration) -> PlatformRegistration:
    """The registration a stored row stands for."""
    return PlatformRegistration(
        issuer=stored.issuer,
        client_ids=frozenset({stored.client_id}),
        authorize_url=stored.authorize_url,
        jwks_endpoint=stored.jwks_endpoint,
        deployment_ids=frozenset(stored.deployment_ids),
        name=stored.name,
        username_prefix=stored.username_prefix,
        frame_origins=tuple(stored.frame_origins),
        source=f"dynamic registration {stored.name!r}: ",
        token_url=stored.token_url,
        token_audience=stored.token_audience,
        stored_id=stored.id,
    )


def merge(
    configured: Sequence[PlatformRegistration],
    stored: Sequence[StoredRegistration],
    log: Optional[logging.Logger] = None,
) -> PlatformRegistry:
    """Configured registrations first, then active stored ones that do not clash.

    A stored registration never replaces a configured one: one with a configured
    issuer and client id, or with a configured registration's name, is left out (and
    logged), so editing the configuration always wins.
    """
    taken: Set[Tuple[str, str]] = {
        (r.issuer, client_id) for r in configured for client_id in r.client_ids
    }
    names = {r.id for r in configured} | {r.slug for r in configured}
    active: List[PlatformRegistration] = list(configured)
    inactive: List[Tuple[PlatformRegistration, str]] = []
    for row in stored:
        registration = from_stored(row)
        if (row.issuer, row.client_id) in taken or row.name in names:
            if log is not None:
                log.warning(
                    "LTI 1.3: dynamic registration %r is ignored: the configuration already "
                    "has a registration with its issuer and client id, or its name",
                    row.name,
                )
            continue
        if row.status == "active":
            active.append(registration)
        else:
            inactive.append((registration, row.status))
    return PlatformRegistry(active, inactive)


class RegistrationSources:
    """The configured registrations plus, when a store is given, the stored ones."""

    def __init__(
        self,
        configured: Callable[[], List[PlatformRegistration]],
        store: Optional[RegistrationStore] = None,
        log: Optional[logging.Logger] = None,
    ) -> None:
        self._configured = configured
        self.store = store
        self.log = log or logging.getLogger(__name__)
        self._stored: Tuple[StoredRegistration, ...] = ()
        self._generation: Optional[int] = None
        self._registry: Optional[PlatformRegistry] = None
        # One thread: store calls never block the event loop, and never race each other.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lti-registrations")

    # -- what launches read (memory only) ------------------------------------------------

    @property
    def registry(self) -> PlatformRegistry:
        if self._registry is None:
            self._registry = merge(self._configured(), self._stored, self.log)
        return self._registry

    @property
    def stored(self) -> Tuple[StoredRegistration, ...]:
        """The stored registrations as last loaded (all statuses)."""
        return self._stored

    def configuration_changed(self) -> None:
        self._registry = None

    # -- loading -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the store and load it (at start-up, before the hub serves anything)."""
        if self.store is None:
            return
        started = time.perf_counter()
        self.store.open()
        self._load()
        # Thousands of registrations live as long as the hub: keep the garbage collector
        # from walking them again at every full collection (their memory is still freed
        # when a reload drops them).
        gc.freeze()
        self.log.info(
            "LTI 1.3: %d stored registration(s) loaded in %.2f s",
            len(self._stored),
            time.perf_counter() - started,
        )

    def _load(self) -> None:
        """Read the store and build the merged registry (on the store's thread), then swap
        both in at once: launches meanwhile keep using the previous registry."""
        assert self.store is not None
        generation = self.store.generation()
        rows = tuple(self.store.all())
        registry = merge(self._configured(), rows, self.log)
        self._stored, self._generation, self._registry = rows, generation, registry

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the store's thread, then reload what launches see."""
        result = await self._in_thread(call, *args, **kwargs)
        await self._in_thread(self._load)
        return result

    async def read(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call that changes nothing on the store's thread."""
        return await self._in_thread(call, *args, **kwargs)

    async def refresh(self) -> bool:
        """Reload when another process changed the store; True if something changed."""
        if self.store is None:
            return False
        generation = await self._in_thread(self.store.generation)
        if generation == self._generation:
            return False
        await self._in_thread(self._load)
        return True

    async def _in_thread(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: call(*args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self.store is not None:
            self.store.close()
