"""State, nonce, their cookies, the single-use record, and next-URL sanitising.

The login initiation creates a ``nonce_state`` and a ``state``; the platform receives the
state and ``sha256(nonce_state)`` as the nonce. The state is *minted* by the hub: a JSON
object (next URL, registration, the nonce it belongs to, when it was made) carrying an
HMAC made with a key derived from the hub's cookie secret, so a state the hub did not
make is refused on every path, whatever else came with it.

Both values are remembered for the browser that started the login: in two signed,
short-lived cookies whose names are unique to that login (two launches in flight in one
browser do not overwrite each other), or, for browsers that block cookies in frames, in
the platform's storage (see :mod:`._platform_storage`). Over https the cookies carry the
``__Host-`` prefix: the browser then refuses them from any other host, so a sibling
host under the same domain cannot plant its own launch cookies in a victim's browser
("cookie tossing").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
import secrets
import time
from http.cookies import SimpleCookie
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from .error import BusyError, StateError

STATE_COOKIE_NAME = "lti13authenticator-state"
NONCE_STATE_COOKIE_NAME = "lti13authenticator-nonce-state"

#: Seconds a login may take between initiation and callback (cookie and state lifetime).
LAUNCH_COOKIE_MAX_AGE = 600

#: Per-launch cookie names over https: ``__Host-`` cookies cannot be set by another host.
_SECURE_COOKIE_PREFIX = "__Host-lti13-"


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


def digest(value: str) -> str:
    """Store digests, not the values: records must not hold usable secrets."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


# -- minted states ------------------------------------------------------------------------

_SIGNATURE_FIELD = "sig"


def state_key(cookie_secret: bytes) -> bytes:
    """The key that signs states, derived from (never equal to) the hub's cookie secret."""
    return hmac.new(cookie_secret, b"ltiauthenticator launch state v1", hashlib.sha256).digest()


def _canonical(fields: Dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _mac(key: bytes, fields: Dict[str, Any]) -> str:
    return hmac.new(key, _canonical(fields), hashlib.sha256).hexdigest()


def mint_state(
    key: bytes,
    *,
    next_url: str,
    registration_id: str,
    nonce: str,
    now: Optional[float] = None,
    **extra: Any,
) -> str:
    """A fresh state signed with ``key``. ``extra`` entries whose value is empty are left out.

    Known extras: ``storage`` (the platform's storage frame, when the launch may use the
    1EdTech platform storage instead of cookies) and ``relaunch`` (the login initiation
    parameters, so a page can offer to start the same launch again in a new window).
    The state stays readable by :func:`_deserialize_state`, as subclasses expect.
    """
    fields: Dict[str, Any] = {
        "state_id": secrets.token_urlsafe(24),
        "next_url": next_url,
        "platform": registration_id,
        "nonce": nonce,
        "iat": int(time.time() if now is None else now),
    }
    fields.update({k: v for k, v in extra.items() if v})
    fields[_SIGNATURE_FIELD] = _mac(key, fields)
    return _serialize_state(fields)


def open_state(
    key: bytes, state: Any, *, now: Optional[float] = None, max_age: float = LAUNCH_COOKIE_MAX_AGE
) -> Dict[str, Any]:
    """The fields of a state this hub minted, not older than ``max_age``; else StateError."""
    fields = _deserialize_state(state) if isinstance(state, str) else {}
    signature = fields.pop(_SIGNATURE_FIELD, None)
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _mac(key, fields)):
        raise StateError(
            "OAuth state mismatch: this hub did not issue the state of this launch.",
            reason="state_not_ours",
            hint="Start the launch again from your course.",
        )
    issued_at = fields.get("iat")
    now = time.time() if now is None else now
    if not isinstance(issued_at, int) or not issued_at - 60 <= now <= issued_at + max_age:
        raise StateError(
            "OAuth state mismatch: the login was started too long ago.",
            reason="state_expired",
            hint="Start the launch again from your course.",
        )
    if not isinstance(fields.get("state_id"), str):
        raise StateError("OAuth state mismatch: the state is malformed.")
    return fields


def launch_tag(state_id: str) -> str:
    """A short tag naming one login's cookies and storage keys (not the state itself)."""
    return hashlib.sha256(state_id.encode("utf-8")).hexdigest()[:16]


def launch_cookie_names(state_id: str, secure: bool) -> Tuple[str, str]:
    """The state and nonce-state cookie names of one login.

    Over https: ``__Host-`` names, which only this host can set. Over plain http
    (development) browsers refuse ``__Host-`` cookies, so the legacy names get a suffix.
    """
    tag = launch_tag(state_id)
    if secure:
        return f"{_SECURE_COOKIE_PREFIX}state-{tag}", f"{_SECURE_COOKIE_PREFIX}nonce-{tag}"
    return f"{STATE_COOKIE_NAME}-{tag}", f"{NONCE_STATE_COOKIE_NAME}-{tag}"


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
    try:
        parts = urlsplit(url.replace("\\", "%5C"))
    except ValueError:  # e.g. an unclosed IPv6 host: "http://[::1"
        return ""
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


def _next_parameter(query: str) -> Optional[str]:
    """The ``next=`` value of a query, keeping an unencoded query of its own.

    ``next=/hub/user-redirect/git-pull?repo=…&branch=…`` (an nbgitpuller link pasted
    without encoding) would lose everything after the first ``&`` to a plain parser:
    when the value has a ``?`` of its own, the rest of the query belongs to it.
    """
    for index, pair in enumerate(query.split("&")):
        name, _, value = pair.partition("=")
        if name != "next":
            continue
        decoded = unquote(value.replace("+", " "))
        if "?" in value:  # an unencoded URL with its own query: take the rest as it is
            rest = "&".join([value, *query.split("&")[index + 1 :]])
            return unquote(rest)
        return decoded
    return None


def next_url_from_target_link_uri(target_link_uri: str, *roots: str) -> str:
    """The next URL implied by ``target_link_uri``: its ``next=`` parameter, else its path
    unless that is just one of the hub's ``roots`` (then the hub's default applies)."""
    if not isinstance(target_link_uri, str):
        return ""
    try:
        parts = urlsplit(target_link_uri)
    except ValueError:
        return ""
    if "next" in parse_qs(parts.query):
        return _next_parameter(parts.query) or ""
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
    ``Secure``. ``__Host-`` cookies must have ``Path=/``.
    """
    if name.startswith("__Host-"):
        path = "/"
    morsel = SimpleCookie()
    morsel[name] = value
    attributes = [morsel[name].OutputString(), f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    if secure:
        attributes += ["Secure", "SameSite=None", "Partitioned"]
    if max_age <= 0:
        attributes.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return "; ".join(attributes)


# -- bounded records ----------------------------------------------------------------------


class ExpiringEntries:
    """A bounded map whose entries each expire at their own time.

    At capacity, new entries are refused (:meth:`_add` returns False) rather than live
    ones evicted: evicting would let a flood push out what must be remembered (a used
    nonce, a launch waiting for its browser). Memory stays bounded whatever the rate.
    """

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: Dict[str, Tuple[float, Any]] = {}
        self._expiries: List[Tuple[float, str]] = []
        #: New entries refused because the map was full of live ones.
        self.refused = 0

    def __len__(self) -> int:
        return len(self._live())

    def _live(self) -> Dict[str, Tuple[float, Any]]:
        """The entries, after dropping the expired ones."""
        now = self.clock()
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, key = heapq.heappop(self._expiries)
            entry = self._entries.get(key)
            if entry is not None and entry[0] == expires_at:
                del self._entries[key]
                self._removed(entry[1])
        return self._entries

    def _removed(self, value: Any) -> None:
        """Called for each entry that expired or was taken (for subclasses' accounting)."""

    def _add(self, key: str, value: Any, expires_at: float) -> bool:
        entries = self._live()
        if key not in entries and len(entries) >= self.max_entries:
            self.refused += 1
            return False
        entries[key] = (expires_at, value)
        heapq.heappush(self._expiries, (expires_at, key))
        if len(self._expiries) > 2 * len(entries) + 64:  # taken entries leave stale marks
            self._expiries = [(e, k) for k, (e, _) in entries.items()]
            heapq.heapify(self._expiries)
        return True

    def _pop(self, key: str) -> Any:
        entry = self._live().pop(key, None)
        if entry is None:
            return None
        self._removed(entry[1])
        return entry[1]


class SingleUseRecord(ExpiringEntries):
    """Remembers used values until they could no longer pass anyway, so each is used once.

    Only values that passed the signature checks are recorded, so filling it takes
    genuine launches. When it is full of live entries, a new value is refused with
    HTTP 503 (:class:`BusyError`) instead of forgetting one that might be replayed.
    """

    def __init__(
        self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(max_entries, clock)
        #: How long a value is kept when the caller does not say.
        self.ttl = ttl

    def __contains__(self, value: object) -> bool:
        return value in self._live()

    def use(self, value: str, keep_for: Optional[float] = None) -> bool:
        """Record ``value`` for ``keep_for`` seconds; False when it was already used."""
        if value in self._live():
            return False
        keep_for = self.ttl if keep_for is None else max(keep_for, 0.0)
        if not self._add(value, None, self.clock() + keep_for):
            raise BusyError(
                "The hub is handling too many launches right now; try again in a minute.",
                reason="replay_record_full",
            )
        return True
