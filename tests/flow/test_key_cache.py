"""The platform key cache against a real loopback JWKS endpoint (the emulator's)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from ltiauthenticator.lti13._jwks import JWKSCache, ttl_from_cache_control
from ltiauthenticator.lti13.error import KeyFetchError, TokenError

from ..support.emulator import EmulatorServer
from ..support.hub import free_port
from ..support.waiting import async_wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def platform_server():
    """A fresh emulator per test, so fetch counts and keys start clean."""
    server = EmulatorServer("127.0.0.1", free_port(), hub_url="http://127.0.0.1:1").start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class ObservedCache(JWKSCache):
    """The real cache, counting the fetches it completed (its ``fetch`` is the network
    seam): tests wait for a background refresh to finish instead of sleeping."""

    def __init__(self, **traits) -> None:
        super().__init__(**traits)
        self.completed = 0

    async def fetch(self, url: str):
        try:
            return await super().fetch(url)
        finally:
            self.completed += 1

    async def wait_for_fetches(self, count: int) -> None:
        await async_wait_until(
            lambda: self.completed >= count, message=f"{count} completed key fetches"
        )


@pytest.fixture
def cache(clock) -> ObservedCache:
    return ObservedCache(clock=clock, fetch_timeout=2, error_retry_interval=30)


async def test_concurrent_misses_share_one_fetch(platform_server, cache):
    platform_server.platform.jwks_latency = 0.3
    kid = platform_server.platform.signing_kid
    keys = await asyncio.gather(
        *(cache.get_signing_key(platform_server.jwks_url, kid, "RS256") for _ in range(50))
    )
    assert len({id(k) for k in keys}) == 1
    assert platform_server.platform.jwks_fetches == 1


async def test_fresh_keys_are_served_from_memory(platform_server, cache, clock):
    kid = platform_server.platform.signing_kid
    for _ in range(20):
        await cache.get_signing_key(platform_server.jwks_url, kid, "RS256")
        clock.now += 60
    assert platform_server.platform.jwks_fetches == 1  # max-age=3600 keeps them fresh


async def test_expired_keys_keep_serving_while_one_background_refresh_runs(
    platform_server, cache, clock
):
    kid = platform_server.platform.signing_kid
    await cache.get_signing_key(platform_server.jwks_url, kid, "RS256")
    clock.now += 3601
    platform_server.platform.jwks_latency = 0.3
    keys = await asyncio.gather(
        *(cache.get_signing_key(platform_server.jwks_url, kid, "RS256") for _ in range(20))
    )
    assert all(key is not None for key in keys)
    assert cache.completed == 1  # all 20 served from the stale entry, none waited
    await cache.wait_for_fetches(2)
    assert platform_server.platform.jwks_fetches == 2  # one refresh for the 20 launches
    # the refreshed keys are fresh again: no further fetch
    await cache.get_signing_key(platform_server.jwks_url, kid, "RS256")
    assert cache.completed == 2 and platform_server.platform.jwks_fetches == 2


async def test_key_rotation_costs_one_refetch(platform_server, cache, clock):
    url = platform_server.jwks_url
    await cache.get_signing_key(url, platform_server.platform.signing_kid, "RS256")
    clock.now += 120
    new_kid = platform_server.platform.rotate_key(keep_old=False)
    await cache.get_signing_key(url, new_kid, "RS256")
    await cache.get_signing_key(url, new_kid, "RS256")
    assert platform_server.platform.jwks_fetches == 2


async def test_a_flood_of_unknown_kids_causes_at_most_one_refetch_per_interval(
    platform_server, cache, clock
):
    url = platform_server.jwks_url
    await cache.get_signing_key(url, platform_server.platform.signing_kid, "RS256")
    clock.now += 61
    for _ in range(200):
        with pytest.raises(TokenError, match="does not publish"):
            await cache.get_signing_key(url, secrets.token_hex(8), "RS256")
    assert platform_server.platform.jwks_fetches == 2
    clock.now += 61
    with pytest.raises(TokenError):
        await cache.get_signing_key(url, "another-made-up-kid", "RS256")
    assert platform_server.platform.jwks_fetches == 3


async def test_last_good_keys_serve_while_the_endpoint_is_down(platform_server, cache, clock):
    url, kid = platform_server.jwks_url, platform_server.platform.signing_kid
    await cache.get_signing_key(url, kid, "RS256")
    platform_server.platform.jwks_status = 503
    clock.now += 90000
    assert await cache.get_signing_key(url, kid, "RS256") is not None  # starts a refresh
    await cache.wait_for_fetches(2)  # ... which fails
    for _ in range(5):
        assert await cache.get_signing_key(url, kid, "RS256") is not None
    assert platform_server.platform.jwks_fetches == 2  # one failed refresh, then back-off
    assert cache.completed == 2
    clock.now += 31  # the back-off is over: the next launch tries again
    assert await cache.get_signing_key(url, kid, "RS256") is not None
    await cache.wait_for_fetches(3)
    assert platform_server.platform.jwks_fetches == 3


async def test_no_keys_at_all_is_a_server_side_error_with_back_off(platform_server, cache, clock):
    platform_server.platform.jwks_status = 500
    url, kid = platform_server.jwks_url, platform_server.platform.signing_kid
    with pytest.raises(KeyFetchError) as first:
        await cache.get_signing_key(url, kid, "RS256")
    assert first.value.status_code == 503
    with pytest.raises(KeyFetchError, match="try the launch again"):
        await cache.get_signing_key(url, kid, "RS256")
    assert platform_server.platform.jwks_fetches == 1
    platform_server.platform.jwks_status = 200
    clock.now += 31
    assert await cache.get_signing_key(url, kid, "RS256") is not None


async def test_fetch_timeout(platform_server, clock):
    cache = JWKSCache(clock=clock, fetch_timeout=0.3)
    platform_server.platform.jwks_latency = 2
    with pytest.raises(KeyFetchError, match="could not be reached"):
        await cache.get_signing_key(
            platform_server.jwks_url, platform_server.platform.signing_kid, "RS256"
        )


async def test_oversize_key_set_is_refused(platform_server, clock):
    # fetch_timeout bounds the run: today tornado sometimes stalls on the oversize answer
    # instead of failing at once (reported); refused either way
    cache = JWKSCache(clock=clock, max_response_bytes=200, fetch_timeout=1)
    with pytest.raises(KeyFetchError):
        await cache.get_signing_key(
            platform_server.jwks_url, platform_server.platform.signing_kid, "RS256"
        )


async def test_unreachable_endpoint(cache):
    with pytest.raises(KeyFetchError, match="could not be reached"):
        await cache.get_signing_key(f"http://127.0.0.1:{free_port()}/jwks", "k", "RS256")


async def test_keys_that_do_not_fit_are_ignored(platform_server, cache):
    platform = platform_server.platform
    kid = platform.signing_kid
    original = platform.jwks

    def mixed_key_set():
        (good,) = original()["keys"]
        return {
            "keys": [
                dict(good, kid="for-encryption", use="enc"),
                dict(good, kid="other-alg", alg="RS512"),
                dict(good, kid="private", d="AQAB"),
                {"kid": "garbage", "kty": "RSA", "n": "!!", "e": "AQAB"},
                "not even an object",
                good,
            ]
        }

    platform.jwks = mixed_key_set
    url = platform_server.jwks_url
    assert await cache.get_signing_key(url, kid, "RS256") is not None
    for bad_kid in ("for-encryption", "private", "garbage"):
        with pytest.raises(TokenError):
            await cache.get_signing_key(url, bad_kid, "RS256")
    with pytest.raises(TokenError, match="cannot verify RS256"):
        await cache.get_signing_key(url, "other-alg", "RS256")
    with pytest.raises(TokenError, match="cannot verify ES256"):
        await cache.get_signing_key(url, kid, "ES256")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 300),
        ("max-age=60", 300),
        ("public, max-age=7200", 7200),
        ("max-age=999999", 86400),
        ("no-store", 300),
        ('max-age="900"', 900),
    ],
)
def test_ttl_from_cache_control_is_clamped(header, expected):
    assert ttl_from_cache_control(header, 300, 86400) == expected
