"""The nonce record stays bounded under a flood, signed or not."""

from __future__ import annotations

import secrets
import tracemalloc

from tornado.web import HTTPError

from ltiauthenticator.lti11._nonces import NonceStore
from ltiauthenticator.lti11.validator import LTI11LaunchValidator

from .conftest import CONSUMER_KEY, CONSUMER_SECRET, launch_params, sign

URL = "https://hub.example.edu/hub/lti/launch"


def test_a_flood_of_signed_launches_keeps_the_record_at_its_bound() -> None:
    store = NonceStore(max_entries=100)
    validator = LTI11LaunchValidator({CONSUMER_KEY: CONSUMER_SECRET}, nonces=store)
    params = launch_params("flood")

    for _ in range(1000):  # ten times the bound
        assert validator.validate_launch_request(URL, {}, sign(URL, params))

    assert len(store) == 100
    assert store.evicted == 900


def test_a_flood_of_unsigned_launches_records_nothing() -> None:
    store = NonceStore(max_entries=200)
    validator = LTI11LaunchValidator({CONSUMER_KEY: CONSUMER_SECRET}, nonces=store)
    params = launch_params("flood")
    refused = 0
    for _ in range(500):
        try:
            validator.validate_launch_request(URL, {}, sign(URL, params, secret="guess"))
        except HTTPError as e:
            assert e.status_code == 401
            refused += 1
    assert refused == 500
    assert len(store) == 0


def _memory_after(uses: int, max_entries: int, nonce_size: int) -> int:
    """Bytes held by a store after ``uses`` distinct nonces of ``nonce_size`` characters."""
    nonces = [secrets.token_hex(nonce_size // 2) for _ in range(uses)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = NonceStore(max_entries=max_entries)
        for nonce in nonces:
            store.use(CONSUMER_KEY, "1700000000", nonce)
        assert len(store) == min(uses, max_entries)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


# entries kept; the ratios below are the same with 2000 (at four times the cost: every
# allocation is traced)
BOUND = 500


def test_memory_stays_bounded_whatever_the_number_and_size_of_nonces() -> None:
    full = _memory_after(BOUND, max_entries=BOUND, nonce_size=32)
    flooded = _memory_after(10 * BOUND, max_entries=BOUND, nonce_size=32)
    flooded_more = _memory_after(100 * BOUND, max_entries=BOUND, nonce_size=32)
    huge_nonces = _memory_after(BOUND, max_entries=BOUND, nonce_size=4_000)

    # Ten or a hundred times more launches than the bound: the same memory (the hash
    # table settles at a size for the bound), a little above a freshly filled record.
    assert flooded_more < flooded * 1.05
    assert flooded < full * 1.5
    # Nonces a hundred times longer: the same memory, entries are fixed-size digests.
    assert huge_nonces < full * 1.25
    # And small: a few hundred bytes an entry.
    assert flooded / BOUND < 600
