"""Cookie-less launches: the 1EdTech "LTI Client Side postMessages" platform storage.

When third-party cookies are blocked, a tool shown in an LMS iframe cannot keep the
state and nonce in cookies. A platform that implements platform storage says so by
sending ``lti_storage_target`` (the name of its storage frame) in the login initiation.
The tool then:

1. answers the login initiation with a small page that stores the state and the nonce
   state in the platform's storage frame (``lti.put_data``, answered by
   ``lti.put_data.response``) and then navigates to the authorization endpoint;
2. when the platform's form POST arrives without the cookies, answers with a page that
   reads them back (``lti.get_data``) and posts them to the callback again, where they
   are verified exactly like the cookies would have been.

Secrets are only ever posted with the platform's origin (the origin of its
authorization endpoint, as the spec requires) as ``targetOrigin``, never ``*``; replies
are accepted only from the registration's origins. The id_token is not echoed into the
second page: the callback parks it server-side under a single-use ticket, after checking
its signature, and only the ticket travels through the page.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import time
from string import Template
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .. import _templates
from ._state import ExpiringEntries
from .error import BusyError, ReplayError

#: Form fields of the second POST to the callback, made by the storage page.
TICKET_FIELD = "lti_storage_ticket"
STATE_FIELD = "lti_storage_state"
NONCE_STATE_FIELD = "lti_storage_nonce_state"
ERROR_FIELD = "lti_storage_error"

#: Milliseconds the pages wait for each answer from the platform's storage frame.
MESSAGE_TIMEOUT_MS = 3000
#: Seconds a parked launch waits for the storage page to post it back.
PARKING_TTL = 120

_TARGET_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def storage_target(value: Any) -> str:
    """The platform's storage frame name, or ``""`` when absent or not a plausible name."""
    if isinstance(value, str) and _TARGET_NAME.match(value):
        return value
    return ""


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (lower-cased), or ``""``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def platform_origins(registration: Any) -> List[str]:
    """The registration's origins: its authorization endpoint first, then its issuer."""
    origins: List[str] = []
    for url in (registration.authorize_url, registration.issuer):
        origin = origin_of(url)
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def storage_keys(state_id: str) -> Tuple[str, str]:
    """The platform storage keys of one login: derived from the state, unique per login."""
    tag = hashlib.sha256(state_id.encode("utf-8")).hexdigest()[:24]
    return f"lti13.state.{tag}", f"lti13.nonce.{tag}"


# -- the pages ------------------------------------------------------------------------

_SCRIPT = _templates.read("platform_storage.js")
_PAGE = Template(_templates.read("platform_storage.html"))


def _json_for_script(value: Dict[str, Any]) -> str:
    # Inside <script>, "</" and "<!--" must not appear; escape every "<", ">" and "&".
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, text: str, config: Dict[str, Any], noscript: str = "") -> str:
    return _PAGE.substitute(
        title=html.escape(title),
        text=html.escape(text),
        noscript=noscript,
        config=_json_for_script(config),
        script=_SCRIPT,
    )


def put_data_page(
    *, target: str, origin: str, origins: List[str], items: List[Tuple[str, str]], next_url: str
) -> str:
    """The login initiation's answer: store ``items`` in the platform, then go to ``next_url``."""
    config = {
        "mode": "put",
        "target": target,
        "origin": origin,
        "origins": origins,
        "items": items,
        "next": next_url,
        "timeout": MESSAGE_TIMEOUT_MS,
    }
    noscript = f"<noscript><a href='{html.escape(next_url, quote=True)}'>Continue</a></noscript>"
    return _page("Signing in…", "Signing you in…", config, noscript)


def get_data_page(
    *, target: str, origin: str, origins: List[str], keys: Tuple[str, str], ticket: str, action: str
) -> str:
    """The callback's answer without cookies: read the keys back, post them to ``action``."""
    config = {
        "mode": "get",
        "target": target,
        "origin": origin,
        "origins": origins,
        "keys": list(keys),
        "ticket": ticket,
        "action": action,
        "timeout": MESSAGE_TIMEOUT_MS,
        "fields": {
            "ticket": TICKET_FIELD,
            "state": STATE_FIELD,
            "nonce_state": NONCE_STATE_FIELD,
            "error": ERROR_FIELD,
        },
    }
    return _page("Signing in…", "Signing you in…", config)


# -- parked launches ------------------------------------------------------------------------


class ParkedLaunches(ExpiringEntries):
    """Verified launch forms waiting for the storage page: one per token, each taken once.

    Keyed by the token's nonce, so one genuine id_token takes at most one place;
    bounded in entries and in bytes, and full means "refuse new ones" (HTTP 503), never
    "evict a launch someone is waiting for".
    """

    def __init__(
        self,
        max_entries: int = 2_000,
        max_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_entries, clock)
        self.max_bytes = max_bytes
        self._bytes = 0

    @property
    def stored_bytes(self) -> int:
        """The size of the parked forms (what the byte bound applies to)."""
        self._live()
        return self._bytes

    def _removed(self, value: Any) -> None:
        self._bytes -= _size(value[1])

    def park(self, key: str, form: Dict[str, str], keep_for: float = PARKING_TTL) -> str:
        """Keep ``form`` under ``key`` (the token's nonce digest); return its ticket."""
        if key in self._live():
            raise ReplayError(
                "This launch is already waiting for the platform's storage.",
                reason="already_parked",
                hint="Start the launch again from your course.",
            )
        size = _size(form)
        secret = secrets.token_urlsafe(24)
        if self.stored_bytes + size > self.max_bytes or not self._add(
            key, (secret, dict(form)), self.clock() + keep_for
        ):
            raise BusyError(
                "Too many launches are waiting for the platform's storage; try again in a minute.",
                reason="parking_full",
            )
        self._bytes += size
        return f"{key}.{secret}"

    def take(self, ticket: Any) -> Optional[Dict[str, str]]:
        """The form parked under ``ticket`` (once), or None."""
        if not isinstance(ticket, str) or ticket.count(".") != 1:
            return None
        key, secret = ticket.split(".")
        entry = self._live().get(key)
        if entry is None or not hmac.compare_digest(entry[1][0].encode(), secret.encode()):
            return None
        return self._pop(key)[1]


def _size(form: Dict[str, str]) -> int:
    return sum(len(k) + len(v) for k, v in form.items()) + 200  # plus the record itself
