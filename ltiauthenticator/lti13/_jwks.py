"""The platform key cache: one per authenticator, shared by every launch.

What it promises (see the security topic in the docs):

* fetching never blocks the event loop (tornado's ``AsyncHTTPClient``), with a timeout
  and a response size limit;
* one entry per JWKS URL, fresh for the ``Cache-Control: max-age`` the platform sends,
  clamped to ``[min_ttl, max_ttl]``;
* launches that miss the cache at the same time share one in-flight fetch; an expired
  entry keeps serving while one background refresh runs;
* a token naming an unknown ``kid`` causes at most one refetch per
  ``unknown_kid_refetch_interval``, so random kids cannot flood the platform;
* when a refresh fails the last good keys keep serving, and new attempts back off for
  ``error_retry_interval``;
* keys whose ``use`` or ``alg`` does not fit are ignored; only keys from the configured
  JWKS URL are ever used.

"Could not get the keys" is a :class:`KeyFetchError` (HTTP 503): a server-side problem,
distinct from the :class:`TokenError` (HTTP 400) of a token whose ``kid`` is unknown.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import urlsplit

from jwt.api_jwk import PyJWK
from jwt.exceptions import PyJWTError
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets import Any as AnyTrait
from traitlets import Float, Instance, Integer, default
from traitlets.config import LoggingConfigurable

from . import _metrics
from ._http import BoundedBody
from .error import KeyFetchError, TokenError

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)

# Which JWK key type each algorithm family needs.
_KTY_FOR_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


@dataclass
class _Entry:
    keys: Optional[Dict[str, Tuple[str, Optional[str], Any]]] = None  # kid -> (kty, alg, key)
    expires_at: float = float("-inf")
    retry_after: float = float("-inf")
    checked_at: float = float("-inf")  # last fetch, or last refetch for an unknown kid
    inflight: Optional[asyncio.Future] = None
    background: set = field(default_factory=set)


def _redact(url: str) -> str:
    """A URL fit for logs: no query string, no credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def ttl_from_cache_control(header: Optional[str], minimum: float, maximum: float) -> float:
    """Seconds to keep a key set, from its ``Cache-Control`` header, clamped."""
    ttl = minimum
    if header:
        match = _MAX_AGE.search(header)
        if match:
            ttl = float(match.group(1))
    return max(minimum, min(maximum, ttl))


def _key_fits(kty: str, key_alg: Optional[str], token_alg: str) -> bool:
    if key_alg is not None and key_alg != token_alg:
        return False
    return _KTY_FOR_ALG_PREFIX.get(token_alg[:2]) == kty


class JWKSCache(LoggingConfigurable):
    """Fetches and caches the platforms' JSON Web Key Sets.

    Configure it as ``c.JWKSCache.<trait>``. The authenticator owns one instance and
    every launch shares it.
    """

    min_ttl = Float(
        300,
        config=True,
        help="""Shortest time, in seconds, a fetched key set is considered fresh.

        A platform's ``Cache-Control: max-age`` below this value (or a missing header)
        is raised to it.

        .. versionadded:: 2.0
        """,
    )
    max_ttl = Float(
        86400,
        config=True,
        help="""Longest time, in seconds, a fetched key set is considered fresh.

        After this, the next launch triggers a background refresh while the cached keys
        keep serving.

        .. versionadded:: 2.0
        """,
    )
    unknown_kid_refetch_interval = Float(
        60,
        config=True,
        help="""Minimum seconds between two refetches caused by a token with an unknown ``kid``.

        Platforms rotate keys by publishing a new ``kid``; the first launch signed with it
        triggers a refetch. A flood of tokens with made-up kids triggers at most one
        fetch per interval.

        .. versionadded:: 2.0
        """,
    )
    error_retry_interval = Float(
        30,
        config=True,
        help="""Seconds to wait after a failed fetch before trying the platform again.

        Meanwhile the last good key set keeps serving; with no key set at all, launches
        are refused with HTTP 503.

        .. versionadded:: 2.0
        """,
    )
    fetch_timeout = Float(
        5,
        config=True,
        help="""Seconds to wait for the platform's JWKS endpoint (connect plus response).

        .. versionadded:: 2.0
        """,
    )
    max_response_bytes = Integer(
        512 * 1024,
        config=True,
        help="""Largest JWKS response, in bytes, that is accepted. Larger ones are refused unparsed.

        .. versionadded:: 2.0
        """,
    )
    max_keys = Integer(
        64,
        config=True,
        help="""Most keys taken from one key set; a larger set is refused.

        .. versionadded:: 2.0
        """,
    )

    clock = AnyTrait(
        help="Monotonic clock (seconds), injectable for tests.",
    )
    http_client = Instance(
        AsyncHTTPClient,
        allow_none=True,
        help="""The HTTP client that fetches key sets; made on first use unless injected.

        By default the implementation JupyterHub configured for tornado: libcurl when
        ``pycurl`` is installed, which honours the ``HTTPS_PROXY`` and ``NO_PROXY``
        environment variables (install ``pycurl`` on hubs that reach the LMS through a
        proxy), else tornado's own client.
        """,
    )

    def _new_http_client(self) -> AsyncHTTPClient:
        limit = self.max_response_bytes
        options: Dict[str, Any] = {"max_clients": 4}
        if issubclass(AsyncHTTPClient.configured_class(), SimpleAsyncHTTPClient):
            # Room past the limit, so a too-large answer is seen as such (in fetch) rather
            # than as a connection tornado closed.
            options.update(max_body_size=2 * limit, max_buffer_size=2 * limit)
        return AsyncHTTPClient(force_instance=True, **options)

    @default("clock")
    def _default_clock(self) -> Callable[[], float]:
        return time.monotonic

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._entries: Dict[str, _Entry] = {}

    # -- the one public entry point ------------------------------------------------

    async def get_signing_key(self, jwks_url: str, kid: str, alg: str) -> Any:
        """The platform public key for ``kid`` that can verify ``alg`` signatures."""
        entry = self._entries.setdefault(jwks_url, _Entry())
        now = self.clock()
        if entry.keys is None:
            await self._refresh(jwks_url, entry)
        elif now >= entry.expires_at:
            self._refresh_in_background(jwks_url, entry)

        unknown = kid not in (entry.keys or {})
        if unknown and now - entry.checked_at >= self.unknown_kid_refetch_interval:
            entry.checked_at = now
            try:
                await self._refresh(jwks_url, entry)
            except KeyFetchError:
                pass  # keep the last good keys; the kid is still unknown below
        return self._pick(entry, kid, alg)

    def cached_signing_key(self, jwks_url: str, kid: str, alg: str) -> Any:
        """The key from the cache, without any I/O; None when ``jwks_url`` was never
        fetched. A kid missing from fetched keys is an error, as in :meth:`get_signing_key`.
        """
        entry = self._entries.get(jwks_url)
        if entry is None or entry.keys is None:
            return None
        return self._pick(entry, kid, alg)

    @staticmethod
    def _pick(entry: _Entry, kid: str, alg: str) -> Any:
        found = entry.keys.get(kid) if entry.keys is not None else None
        if found is None:
            raise TokenError(
                "The id_token names a signing key (kid) the platform does not publish.",
                reason="unknown_kid",
            )
        kty, key_alg, key = found
        if not _key_fits(kty, key_alg, alg):
            raise TokenError(
                f"The platform's key {kid[:64]!r} cannot verify {alg} signatures.",
                reason="key_alg_mismatch",
            )
        return key

    # -- refreshing ----------------------------------------------------------------

    def _refresh_in_background(self, url: str, entry: _Entry) -> None:
        if entry.inflight is not None or self.clock() < entry.retry_after:
            return
        task = asyncio.ensure_future(self._refresh(url, entry))
        entry.background.add(task)

        def _done(t: asyncio.Future) -> None:
            entry.background.discard(t)
            if not t.cancelled():
                t.exception()  # failures were logged; keep asyncio from warning

        task.add_done_callback(_done)

    async def _refresh(self, url: str, entry: _Entry) -> None:
        if entry.inflight is None:
            if self.clock() < entry.retry_after:
                if entry.keys is not None:
                    return
                raise KeyFetchError(
                    "The platform's signing keys are unavailable right now; "
                    "please try the launch again in a minute.",
                    reason="jwks_backoff",
                )
            entry.inflight = asyncio.ensure_future(self._fetch_into(url, entry))
        # shield: one launch giving up must not cancel the fetch the others wait for
        await asyncio.shield(entry.inflight)

    async def _fetch_into(self, url: str, entry: _Entry) -> None:
        try:
            body, cache_control = await self.fetch(url)
            keys = self._parse_key_set(body)
        except KeyFetchError as e:
            entry.retry_after = self.clock() + self.error_retry_interval
            _metrics.JWKS_FETCHES.labels(result=e.reason).inc()
            self.log.warning("Fetching platform keys from %s failed: %s", _redact(url), e)
            raise
        finally:
            entry.inflight = None
        _metrics.JWKS_FETCHES.labels(result="ok").inc()
        entry.keys = keys
        entry.checked_at = self.clock()
        entry.expires_at = self.clock() + ttl_from_cache_control(
            cache_control, self.min_ttl, self.max_ttl
        )
        self.log.info("Fetched %d platform key(s) from %s", len(keys), _redact(url))

    async def fetch(self, url: str) -> Tuple[bytes, Optional[str]]:
        """The network seam: GET ``url``, return the body and its Cache-Control header."""
        limit = self.max_response_bytes
        if self.http_client is None:  # made on first use, inside the running event loop
            self.http_client = self._new_http_client()
        body = BoundedBody(limit)

        request = HTTPRequest(
            url,
            method="GET",
            headers={"Accept": "application/json, application/jwk-set+json"},
            connect_timeout=self.fetch_timeout,
            request_timeout=self.fetch_timeout,
            follow_redirects=False,
            decompress_response=False,
            header_callback=body.on_header,
            streaming_callback=body.on_chunk,
        )
        too_large_error = KeyFetchError(
            f"The platform's key set is too large (over {limit} bytes).", reason="jwks_too_large"
        )
        try:
            response = await self.http_client.fetch(request, raise_error=True)
        except HTTPClientError as e:
            if body.too_large:
                raise too_large_error from None
            if e.code == 599:  # tornado's code for timeouts and dropped connections
                what = "timeout" if "timeout" in str(e).lower() else "connection closed"
                raise KeyFetchError(
                    f"The platform's JWKS endpoint could not be reached ({what}).",
                    reason="jwks_unreachable",
                ) from None
            raise KeyFetchError(
                f"The platform's JWKS endpoint answered HTTP {e.code}.", reason="jwks_http_error"
            ) from None
        except Exception as e:  # the network edge: any failure means no keys from there
            if body.too_large:
                raise too_large_error from None
            raise KeyFetchError(
                f"The platform's JWKS endpoint could not be reached ({type(e).__name__}).",
                reason="jwks_unreachable",
            ) from None
        if body.too_large:
            raise too_large_error
        return bytes(body), response.headers.get("Cache-Control")

    def _parse_key_set(self, body: bytes) -> Dict[str, Tuple[str, Optional[str], Any]]:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise KeyFetchError(
                "The platform's JWKS endpoint did not return JSON.", reason="jwks_invalid"
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise KeyFetchError(
                "The platform's JWKS endpoint did not return a key set.", reason="jwks_invalid"
            )
        if len(document["keys"]) > self.max_keys:
            raise KeyFetchError(
                "The platform's key set has too many keys.", reason="jwks_too_large"
            )
        keys: Dict[str, Tuple[str, Optional[str], Any]] = {}
        for jwk in document["keys"]:
            usable = self._usable_key(jwk)
            if usable is not None:
                keys[jwk["kid"]] = usable
        return keys

    def _usable_key(self, jwk: Any) -> Optional[Tuple[str, Optional[str], Any]]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            return None
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ("RSA", "EC"):
            return None
        key_alg = jwk.get("alg")
        if key_alg is not None and not isinstance(key_alg, str):
            return None
        if "d" in jwk:  # a private key published by mistake: never use it
            return None
        try:
            public_key = PyJWK(jwk).key
        except (PyJWTError, ValueError, TypeError, KeyError):
            self.log.warning(
                "Ignoring an unreadable key %r in the platform's key set", jwk["kid"][:64]
            )
            return None
        return jwk["kty"], key_alg, public_key
