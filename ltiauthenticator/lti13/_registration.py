"""Platform registrations: which LMS (issuer + client ids) this hub trusts, and how.

Registrations come from two places, merged by :class:`PlatformRegistry`:

* **configured** ones: the single-issuer traits of :class:`LTI13Authenticator` form one,
  and each entry of ``LTI13Authenticator.platforms`` another;
* **stored** ones: made by LTI Dynamic Registration and approved by a hub admin, kept in
  the registration store (:mod:`._registration_store`) and served from memory.

Configured registrations come first: a stored one never overrides them (same issuer and
client id) and never owns a username namespace a configured one uses. Login initiation
picks the registration from ``iss`` and ``client_id``; the state names it, and the
callback verifies the token against that registration only, so one platform's keys never
vouch for another's launch. The resolved launch carries the registration to everything
after (usernames, roles, metrics): nothing looks it up again from the claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .error import IncorrectValueError, RegistrationInactiveError

#: Keys an entry of ``LTI13Authenticator.platforms`` may have.
PLATFORM_KEYS = frozenset(
    {
        "name",
        "issuer",
        "client_id",
        "authorize_url",
        "jwks_endpoint",
        "deployment_ids",
        "username_key",
        "username_prefix",
        "frame_origins",
        "token_url",
        "token_audience",
    }
)
_STRING_KEYS = (
    "name",
    "issuer",
    "authorize_url",
    "jwks_endpoint",
    "username_prefix",
    "token_url",
    "token_audience",
)
_SLUG_UNSAFE = re.compile(r"[^a-z0-9.-]+")


@dataclass(frozen=True)
class PlatformRegistration:
    issuer: str
    client_ids: FrozenSet[str]
    authorize_url: str
    jwks_endpoint: str
    deployment_ids: FrozenSet[str] = field(default_factory=frozenset)
    username_key: Optional[Any] = None
    name: str = ""
    #: Prepended to every username this registration asserts (its namespace).
    username_prefix: str = ""
    #: Origins allowed to frame the hub for this platform (``allow_iframe``).
    frame_origins: Tuple[str, ...] = ()
    #: Where the registration was configured, for messages naming the trait to fix.
    source: str = "LTI13Authenticator."
    #: The platform's OAuth 2 token endpoint, for grade and roster services.
    token_url: str = ""
    #: The ``aud`` of service token assertions when it is not the token endpoint.
    token_audience: str = ""
    #: The row of the registration store this came from (dynamic registrations only).
    stored_id: Optional[int] = None

    @property
    def id(self) -> str:
        """Stable identifier kept in the state between login initiation and callback."""
        return self.name or self.issuer

    @property
    def slug(self) -> str:
        """A short, stable, readable name: the ``name``, else the issuer's host."""
        raw = self.name or (urlsplit(self.issuer).hostname or self.issuer)
        return _SLUG_UNSAFE.sub("-", raw.lower()).strip("-") or "platform"


def _as_strings(value: Any, where: str) -> List[str]:
    """A string or a list of strings/numbers → a list of strings (numbers are unambiguous)."""
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, (list, tuple, set, frozenset)):
        items = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise ValueError(f"{where} must be a string or a list of strings, got {value!r}")
            items.append(str(item))
        return items
    raise ValueError(f"{where} must be a string or a list of strings, got {value!r}")


def normalize_platform_entry(entry: Any, index: int) -> Dict[str, Any]:
    """One ``platforms`` entry, checked and normalised; ``ValueError`` names the key to fix."""
    where = f"LTI13Authenticator.platforms[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a map of settings, got {entry!r}")
    unknown = sorted(set(entry) - PLATFORM_KEYS)
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {unknown}; known keys: {sorted(PLATFORM_KEYS)}"
        )
    normalized = dict(entry)
    for key in _STRING_KEYS:
        if key in entry and not isinstance(entry[key], str):
            raise ValueError(f"{where}.{key} must be a string, got {entry[key]!r}")
    normalized["client_id"] = _as_strings(entry.get("client_id"), f"{where}.client_id")
    if any(not c.strip() for c in normalized["client_id"]):
        raise ValueError(f"{where}.client_id must not be empty")
    normalized["deployment_ids"] = _as_strings(
        entry.get("deployment_ids"), f"{where}.deployment_ids"
    )
    normalized["frame_origins"] = _as_strings(entry.get("frame_origins"), f"{where}.frame_origins")
    return normalized


def check_names(entries: List[Dict[str, Any]], primary_issuer: str) -> None:
    """Names must be unique, and must not be another registration's issuer (ids would mix)."""
    issuers = {primary_issuer} | {e.get("issuer", "") for e in entries}
    seen: Dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") or ""
        if not name:
            continue
        if name in seen:
            raise ValueError(
                f"LTI13Authenticator.platforms[{index}].name {name!r} is also the name of "
                f"platforms[{seen[name]}]; names must be unique"
            )
        if name in issuers and name != entry.get("issuer"):
            raise ValueError(
                f"LTI13Authenticator.platforms[{index}].name {name!r} is another "
                "registration's issuer; choose a name that is not an issuer"
            )
        seen[name] = index


def frame_origin_problems(origins: Iterable[str], where: str) -> List[str]:
    problems = []
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
            problems.append(
                f"{where}frame_origins entry {origin!r} must be an origin like "
                "https://school.instructure.com"
            )
    return problems


class PlatformRegistry:
    """Finds the registration a launch belongs to, in constant time however many there are.

    ``registrations`` are the ones that may launch (configured first, then active stored
    ones); ``inactive`` are stored ones a hub admin has not approved yet or has disabled,
    kept only to tell their launches why they are refused.
    """

    def __init__(
        self,
        registrations: Iterable[PlatformRegistration],
        inactive: Iterable[Tuple[PlatformRegistration, str]] = (),
    ) -> None:
        self.registrations: List[PlatformRegistration] = list(registrations)
        self._configured = [r for r in self.registrations if r.stored_id is None]
        self._by_issuer: Dict[str, List[PlatformRegistration]] = {}
        self._by_id: Dict[str, PlatformRegistration] = {}
        self._first_by_prefix: Dict[str, PlatformRegistration] = {}
        for registration in self.registrations:
            self._by_issuer.setdefault(registration.issuer, []).append(registration)
            self._by_id.setdefault(registration.id, registration)
            self._first_by_prefix.setdefault(registration.username_prefix, registration)
        #: (issuer, client id) → status of registrations that may not launch (yet).
        self._inactive: Dict[Tuple[str, str], str] = {}
        self._inactive_issuers: Dict[str, str] = {}
        for registration, status in inactive:
            self._inactive_issuers.setdefault(registration.issuer, status)
            for client_id in registration.client_ids:
                self._inactive.setdefault((registration.issuer, client_id), status)

    @property
    def configured(self) -> List[PlatformRegistration]:
        """The registrations made in the hub's configuration (not by dynamic registration)."""
        return self._configured

    def for_claims(self, claims: Mapping[str, Any]) -> Optional[PlatformRegistration]:
        """The registration a token's issuer and audience name (``azp`` first).

        For callers without a resolved launch only (a subclass calling ``get_username``
        directly); launches carry the registration they were verified against.
        """
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        azp = claims.get("azp")
        if isinstance(azp, str):
            audiences = [azp]
        issuer = claims.get("iss")
        candidates = self._by_issuer.get(issuer, []) if isinstance(issuer, str) else []
        for audience in audiences:
            for registration in candidates:
                if audience in registration.client_ids:
                    return registration
        return None

    def by_id(self, registration_id: object) -> Optional[PlatformRegistration]:
        if not isinstance(registration_id, str):
            return None
        return self._by_id.get(registration_id)

    def owns_admin_names(self, registration: PlatformRegistration) -> bool:
        """Whether ``registration`` may log in the names in ``admin_users``.

        Each username namespace (prefix) belongs to the first registration using it; a
        platform sharing another's namespace can never assert that one's admin names.
        """
        return self._first_by_prefix.get(registration.username_prefix) is registration

    def namespace_owner(self, username_prefix: str) -> Optional[PlatformRegistration]:
        """The registration that owns the username namespace ``username_prefix``, if any."""
        return self._first_by_prefix.get(username_prefix)

    def _refuse_inactive(self, issuer: str, client_id: Optional[str]) -> None:
        """A launch from a registration that is pending or disabled: say so."""
        if client_id:
            status = self._inactive.get((issuer, client_id), "")
        else:
            status = self._inactive_issuers.get(issuer, "")
        if status:
            raise RegistrationInactiveError.for_status(status)

    def find(self, issuer: str, client_id: Optional[str]) -> PlatformRegistration:
        candidates = self._by_issuer.get(issuer, [])
        if not candidates:
            self._refuse_inactive(issuer, client_id)
            raise IncorrectValueError(
                "This hub is not registered with the platform that started the launch (iss).",
                reason="unknown_issuer",
                hint="The hub administrator must add the LMS's issuer to the configuration.",
            )
        if client_id:
            for registration in candidates:
                if client_id in registration.client_ids:
                    return registration
            self._refuse_inactive(issuer, client_id)
            raise IncorrectValueError(
                "The launch names a client_id this hub is not configured for.",
                reason="unknown_client_id",
                hint="The hub administrator must add the LMS's client id to the configuration.",
            )
        if len(candidates) > 1 or len(candidates[0].client_ids) != 1:
            raise IncorrectValueError(
                "The platform did not send a client_id and several client ids are configured "
                "for its issuer, so the hub cannot tell which registration this launch is for.",
                reason="ambiguous_client_id",
                hint="Ask the LMS administrator to send client_id in the login initiation.",
            )
        return candidates[0]

    @staticmethod
    def client_id_for_login(registration: PlatformRegistration, client_id: Optional[str]) -> str:
        """The client id to send to the authorization endpoint: never empty."""
        return client_id or next(iter(registration.client_ids))
