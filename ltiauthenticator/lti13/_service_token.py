"""Access tokens for the platform's services (grades, roster): OAuth 2 client credentials.

The tool proves who it is with a JWT client assertion signed by the tool key (RFC 7523,
1EdTech Security Framework §4.1): ``iss`` = ``sub`` = the client id, ``aud`` = the
platform's token endpoint (or the audience it asks for), a short ``exp`` and a fresh
``jti``. Tokens are cached per (registration, client id, sorted scopes) until shortly
before they expire; concurrent callers share one fetch; fetching never blocks the hub's
event loop.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional, Tuple
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ._registration import PlatformRegistration

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Lifetime of the client assertion: just long enough to reach the token endpoint.
ASSERTION_LIFETIME = 60
#: A cached token is renewed this many seconds before the platform says it expires,
#: so a request never leaves with a token that dies on the way.
RENEW_MARGIN = 60
#: When the platform does not say how long its token lives (expires_in is optional).
DEFAULT_EXPIRES_IN = 3600


class ServiceAccessError(Exception):
    """The platform refused a service request, or the request could not be made.

    ``status`` is the HTTP status the hub API answers with; ``message`` says what
    happened and what to change (never a token).
    """

    def __init__(self, message: str, status: int = 502, platform_status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.platform_status = platform_status


@dataclass
class _Token:
    value: str
    expires_at: float


def platform_error_detail(body: bytes) -> str:
    """``error: error_description`` from an OAuth error answer, else a short excerpt."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = None
    if isinstance(document, dict) and ("error" in document or "error_description" in document):
        parts = [str(document.get(k)) for k in ("error", "error_description") if document.get(k)]
        return ": ".join(parts)[:300]
    text = (body or b"").decode("utf-8", "replace").strip()
    return text[:200] or "no details"


class ServiceTokens:
    """Fetches and caches service access tokens for all registrations."""

    def __init__(
        self,
        signer: Callable[[], Any],
        http_client: Optional[Callable[[], Any]] = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 20,
    ) -> None:
        #: ``signer()`` returns the :class:`ToolSigner` (loaded lazily by the authenticator).
        self._signer = signer
        self._http_client = http_client or AsyncHTTPClient
        self.clock = clock
        self.timeout = timeout
        self._tokens: Dict[Tuple[str, str, Tuple[str, ...]], _Token] = {}
        self._pending: Dict[Tuple[str, str, Tuple[str, ...]], asyncio.Future] = {}
        #: How many tokens were fetched (for tests and metrics).
        self.fetches = 0

    @staticmethod
    def token_url(registration: PlatformRegistration) -> str:
        if not registration.token_url:
            raise ServiceAccessError(
                f"{registration.source}token_url is not set: the hub cannot ask the platform "
                f"{registration.slug!r} for a service token. Copy the platform's token "
                "endpoint (e.g. https://<moodle>/mod/lti/token.php) into the configuration.",
                status=409,
            )
        return registration.token_url

    def assertion(self, registration: PlatformRegistration, client_id: str) -> str:
        """The signed client assertion for one token request."""
        now = int(self.clock())
        audience = registration.token_audience or self.token_url(registration)
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": secrets.token_urlsafe(24),
        }
        return self._signer().sign(claims)

    def forget(self, registration: PlatformRegistration, client_id: str, scopes: Iterable[str]):
        """Drop a cached token the platform no longer accepts."""
        self._tokens.pop(self._key(registration, client_id, scopes), None)

    @staticmethod
    def _key(
        registration: PlatformRegistration, client_id: str, scopes: Iterable[str]
    ) -> Tuple[str, str, Tuple[str, ...]]:
        return (registration.id, client_id, tuple(sorted(set(scopes))))

    async def token(
        self, registration: PlatformRegistration, client_id: str, scopes: Iterable[str]
    ) -> str:
        """A valid access token for ``scopes``: cached, or fetched once for all callers."""
        key = self._key(registration, client_id, scopes)
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at - RENEW_MARGIN > self.clock():
            return cached.value
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(registration, client_id, key[2]))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # shield: one caller giving up (a closed connection) must not cancel the others' fetch
        token = await asyncio.shield(pending)
        self._tokens[key] = token
        return token.value

    async def _fetch(
        self, registration: PlatformRegistration, client_id: str, scopes: Tuple[str, ...]
    ) -> _Token:
        url = self.token_url(registration)
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": self.assertion(registration, client_id),
                "scope": " ".join(scopes),
            }
        )
        request = HTTPRequest(
            url,
            method="POST",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        self.fetches += 1
        started = self.clock()
        try:
            response = await self._http_client().fetch(request)
        except HTTPClientError as e:
            body_bytes = e.response.body if e.response is not None else b""
            raise ServiceAccessError(
                f"The platform {registration.slug!r} refused the service token request "
                f"(HTTP {e.code} from its token endpoint {url}: "
                f"{platform_error_detail(body_bytes)}). " + token_refusal_hint(e.code),
                status=502,
                platform_status=e.code,
            ) from None
        except (OSError, asyncio.TimeoutError) as e:
            raise ServiceAccessError(
                f"The platform {registration.slug!r} token endpoint {url} could not be "
                f"reached: {e.__class__.__name__}: {e}",
                status=504,
            ) from None
        return self._parse(response.body, registration, started)

    @staticmethod
    def _parse(body: bytes, registration: PlatformRegistration, started: float) -> _Token:
        try:
            document = json.loads(body)
            value = document["access_token"]
            if not isinstance(value, str) or not value:
                raise ValueError
            expires_in = document.get("expires_in", DEFAULT_EXPIRES_IN)
            expires_in = float(expires_in) if expires_in is not None else DEFAULT_EXPIRES_IN
        except (ValueError, KeyError, TypeError):
            raise ServiceAccessError(
                f"The platform {registration.slug!r} token endpoint answered without a "
                "usable access_token",
                status=502,
            ) from None
        return _Token(value=value, expires_at=started + expires_in)


def token_refusal_hint(status: int) -> str:
    """What the admin changes when the token endpoint says no."""
    if status in (400, 401):
        return (
            "Check that the platform knows the tool's public key (its JWKS URL is "
            "/hub/lti13/jwks), that the client id is right, that token_url (and "
            "token_audience, for Brightspace) match the platform, and that the tool is "
            "allowed the grade and roster services (Moodle: 'IMS LTI Assignment and Grade "
            "Services' and 'IMS LTI Names and Role Provisioning' in the tool settings; "
            "Canvas: the developer key's LTI Advantage scopes)."
        )
    if status == 403:
        return (
            "The platform does not grant the tool these service scopes: enable them in "
            "the tool's registration."
        )
    return "The platform had a problem; try again later."
