"""The real platform key cache, reading an emulated platform's key set without a socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional, Tuple

from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.platform_emulator import EmulatedPlatform


class PlatformKeys(JWKSCache):
    """A :class:`JWKSCache` whose network seam (``fetch``) asks ``platform`` directly.

    Parsing, caching, kid look-ups and refetch limits are the real cache's; only the
    HTTP GET is replaced, for unit tests that need no server.
    """

    def __init__(self, platform: EmulatedPlatform, **traits: Any) -> None:
        super().__init__(**traits)
        self.platform = platform
        self.fetched = 0

    async def fetch(self, url: str) -> Tuple[bytes, Optional[str]]:
        self.fetched += 1
        return json.dumps(self.platform.jwks()).encode(), self.platform.jwks_cache_control


def prefetch(cache: JWKSCache, jwks_url: str, id_token: str) -> None:
    """What the launch handler does before the synchronous checks: put the token's key
    in the cache (an unknown kid or a malformed token is left for the checks to report)."""
    from ltiauthenticator.lti13 import _jwt
    from ltiauthenticator.lti13.error import LTI13Error

    try:
        header = _jwt.parse_compact(id_token).header
        asyncio.run(cache.get_signing_key(jwks_url, header.get("kid"), header.get("alg")))
    except (LTI13Error, TypeError):
        pass
