"""State, nonce, their cookies, the single-use record, and next-URL sanitising.

The login initiation creates a ``state`` (CSRF protection, also carrying the next URL
and the platform registration) and a ``nonce_state``; the platform receives the state
and ``sha256(nonce_state)`` as the nonce. Both are remembered in signed, short-lived
cookies bound to this browser, and each is accepted once only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from http.cookies import SimpleCookie
from typing import Any, Callable, Dict, Tuple
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

STATE_COOKIE_NAME = "lti13authenticator-state"
NONCE_STATE_COOKIE_NAME = "lti13authenticator-nonce-state"

#: Seconds a login may take between initiation and callback (cookie lifetime).
LAUNCH_COOKIE_MAX_AGE = 600


def make_nonce_state() -> str:
    """A fresh random string, kept in the browser; its SHA-256 is the nonce."""
    return secrets.token_urlsafe(32)


def get_nonce(nonce_state: str) -> str:
    """The nonce sent to the platform: the SHA-256 hex digest of ``nonce_state``."""
    return hashlib.sha256(nonce_state.encode("utf-8")).hexdigest()


def _serialize_state(state: Dict[str, Any]) -> str:
    """JSON in URL-safe base64 (the format of the established plugin)."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode(
        "ascii"
    )


def _deserialize_state(b64_state: str) -> Dict[str, Any]:
    """Inverse of :func:`_serialize_state`; anything malformed becomes ``{}``."""
    try:
        raw = base64.urlsafe_b64decode(b64_state.encode("ascii"))
        state = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError, AttributeError, RecursionError):
        return {}
    return state if isinstance(state, dict) else {}


def new_state(next_url: str, registration_id: str, **extra: Any) -> str:
    """A fresh state. ``extra`` entries whose value is empty are left out.

    Known extras: ``storage`` (the platform's storage frame, when the launch uses the
    1EdTech platform storage instead of cookies) and ``relaunch`` (the login initiation
    parameters, so a page can offer to start the same launch again in a new window).
    """
    state: Dict[str, Any] = {
        "state_id": secrets.token_urlsafe(24),
        "next_url": next_url,
        "platform": registration_id,
    }
    state.update({k: v for k, v in extra.items() if v})
    return _serialize_state(state)


# -- next URL ---------------------------------------------------------------------------

_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


def sanitize_next_url(url: str, base_url: str = "/") -> str:
    """Reduce ``url`` to a path on this hub, or ``""`` when nothing safe remains.

    The scheme and host are dropped (an off-site URL becomes the same path here),
    backslashes are neutralised (browsers read ``/\\evil.example`` as ``//evil.example``)
    and the path must live under the hub's ``base_url``.
    """
    if not isinstance(url, str) or not url:
        return ""
    parts = urlsplit(url.replace("\\", "%5C"))
    path = parts.path
    if not path.startswith("/"):
        return ""
    while path.startswith("//"):
        path = path[1:]
    if not path.startswith(base_url.rstrip("/") + "/") and path != base_url.rstrip("/"):
        return ""
    # Control characters and spaces would make an invalid Location header: escape them.
    path, query, fragment = (quote(p, safe=_URL_SAFE) for p in (path, parts.query, parts.fragment))
    return urlunsplit(("", "", path, query, fragment))


def next_url_from_target_link_uri(target_link_uri: str, *roots: str) -> str:
    """The next URL implied by ``target_link_uri``: its ``next=`` parameter, else its path
    unless that is just one of the hub's ``roots`` (then the hub's default applies)."""
    try:
        parts = urlsplit(target_link_uri)
    except ValueError:
        return ""
    next_values = parse_qs(parts.query).get("next")
    if next_values:
        return next_values[0]
    root_paths = {"", "/"} | {r.rstrip("/") for r in roots} | {r.rstrip("/") + "/" for r in roots}
    if parts.path in root_paths:
        return ""
    return urlunsplit(("", "", parts.path, parts.query, ""))


# -- cookies ------------------------------------------------------------------------------


def launch_cookie_header(
    name: str, value: str, *, path: str, secure: bool, max_age: int = LAUNCH_COOKIE_MAX_AGE
) -> str:
    """A ``Set-Cookie`` value for a state or nonce cookie.

    Over https the cookie is ``SameSite=None; Secure; Partitioned`` so it survives the
    platform's cross-site form POST and launches inside an LMS iframe. Python's cookie
    module cannot emit ``Partitioned`` before 3.14, so the header is written here. Over
    plain http (development) ``SameSite`` is left out: browsers refuse ``None`` without
    ``Secure``.
    """
    morsel = SimpleCookie()
    morsel[name] = value
    attributes = [morsel[name].OutputString(), f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    if secure:
        attributes += ["Secure", "SameSite=None", "Partitioned"]
    if max_age <= 0:
        attributes.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return "; ".join(attributes)


# -- single use ---------------------------------------------------------------------------


class ExpiringEntries:
    """A bounded map whose entries all live for the same ``ttl``.

    Insertion order is expiry order, so expired entries are dropped from the front;
    past ``max_entries`` the oldest entry goes first (it is the closest to expiring
    anyway). Memory stays bounded whatever the request rate.
    """

    def __init__(
        self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, Tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self) -> OrderedDict[str, Tuple[float, Any]]:
        """The entries, after dropping the expired ones."""
        now = self.clock()
        while self._entries:
            oldest, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                break
            del self._entries[oldest]
        return self._entries

    def _add(self, key: str, value: Any) -> None:
        entries = self._live()
        entries[key] = (self.clock() + self.ttl, value)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)


class SingleUseRecord(ExpiringEntries):
    """Remembers used values until they expire, so each is accepted once.

    Only values that already passed the cookie or signature checks are recorded, so an
    attacker cannot fill it cheaply.
    """

    def __init__(
        self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(ttl, max_entries, clock)

    def use(self, value: str) -> bool:
        """Record ``value``; False when it was already used (a replay)."""
        if value in self._live():
            return False
        self._add(value, None)
        return True


def digest(value: str) -> str:
    """Store digests, not the values: the record must not hold usable secrets."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
