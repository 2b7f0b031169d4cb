"""Waiting on a condition, with a bound: the only way tests synchronise with servers."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

POLL = 0.01


def wait_until(
    condition: Callable[[], Any], timeout: float = 10, message: str = "", poll: float = POLL
) -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``timeout`` seconds passed; a
    condition that costs a request may ask to be polled less often (``poll`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true after {timeout}s: {message or condition}")
        time.sleep(poll)


async def async_wait_until(
    condition: Callable[[], Any], timeout: float = 10, message: str = ""
) -> Any:
    """:func:`wait_until` for coroutines: the event loop keeps running meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true after {timeout}s: {message or condition}")
        await asyncio.sleep(POLL)
