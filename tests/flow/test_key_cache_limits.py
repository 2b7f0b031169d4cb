"""Key sets that are too large, and the key fetcher's HTTP client (a seam tests can fill)."""

from __future__ import annotations

import json

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient

from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.lti13.error import KeyFetchError

from ..support.hub import free_port

BIG = json.dumps({"keys": [], "padding": "x" * 200_000})


class WholeBody(tornado.web.RequestHandler):
    def get(self) -> None:  # with a Content-Length header
        self.write(BIG)


class Chunked(tornado.web.RequestHandler):
    async def get(self) -> None:  # chunked: the size shows only while reading
        for start in range(0, len(BIG), 10_000):
            self.write(BIG[start : start + 10_000])
            await self.flush()


@pytest.fixture
async def big_jwks():  # async: served by the test's own event loop
    port = free_port()
    server = tornado.web.Application([("/whole", WholeBody), ("/chunked", Chunked)]).listen(
        port, address="127.0.0.1"
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.parametrize("path", ["/whole", "/chunked"])
async def test_an_oversize_key_set_is_reported_as_too_large(big_jwks, path):
    cache = JWKSCache(max_response_bytes=50_000, fetch_timeout=5)
    with pytest.raises(KeyFetchError, match=r"too large \(over 50000 bytes\)") as refused:
        await cache.get_signing_key(big_jwks + path, "kid", "RS256")
    assert refused.value.reason == "jwks_too_large"


async def test_the_http_client_can_be_given(big_jwks):
    client = AsyncHTTPClient(force_instance=True)
    cache = JWKSCache(http_client=client, max_response_bytes=1_000_000)
    with pytest.raises(Exception, match="names a signing key"):
        await cache.get_signing_key(big_jwks + "/whole", "kid", "RS256")
    assert cache.http_client is client
    client.close()


def test_a_cold_cache_outside_a_launch_fetches_the_way_the_established_plugin_did():
    """A subclass or a test calling verify_and_decode_jwt directly, with nothing cached:
    PyJWT's ``PyJWKClient`` fetches the key (blocking, as in 1.6.3); a launch never does,
    because the handler fills the cache first."""
    from ltiauthenticator.lti13.validator import LTI13LaunchValidator
    from ltiauthenticator.platform_emulator import Launch

    from ..support.emulator import EmulatorServer

    server = EmulatorServer("127.0.0.1", free_port(), hub_url="http://127.0.0.1:1").start()
    try:
        platform = server.platform
        token = platform.id_token_for(Launch(user="ada"), "n" * 64)
        validator = LTI13LaunchValidator()
        claims = validator.verify_and_decode_jwt(
            encoded_jwt=token,
            issuer=platform.issuer,
            audience={platform.tool.client_id},
            jwks_endpoint=server.jwks_url,
            jwks_algorithms=["RS256"],
        )
        assert claims["email"] == "ada@example.edu"
        assert platform.jwks_fetches == 1
        assert validator.key_cache.cached_signing_key(server.jwks_url, "x", "RS256") is None
    finally:
        server.stop()
