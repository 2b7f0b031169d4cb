"""RSA keys made once for every test run; the real platform key cache without a socket."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional, Tuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ltiauthenticator.lti13._jwks import JWKSCache
from ltiauthenticator.platform_emulator import EmulatedPlatform
from ltiauthenticator.platform_emulator.platform import new_signing_key

KEY_CACHE = Path(__file__).resolve().parents[2] / ".test-cache" / "rsa-keys"


class KeyPool:
    """Real RSA keys, made once and kept in ``.test-cache/rsa-keys/`` (gitignored).

    A test run starts ~100 emulated platforms, and making a 2048-bit key takes 50-200 ms
    of CPU. The n-th key a process takes is the n-th file, made (and kept) if missing: a
    process never gets the same key twice, so its platforms never share a key. Processes
    do get the same keys, and never talk to each other's platforms.
    """

    def __init__(self, directory: Path = KEY_CACHE) -> None:
        self.directory = directory
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def take(self) -> rsa.RSAPrivateKey:
        with self._lock:
            index = next(self._counter)
        path = self.directory / f"{index:04d}.pem"
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            return self._make(path)
        # a key this pool wrote: skip the RSA consistency check (~35 ms each)
        return serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=True
        )

    def _make(self, path: Path) -> rsa.RSAPrivateKey:
        key = new_signing_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        # whole files only: another worker may be reading the same index
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.replace(temporary, path)
        return key


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
