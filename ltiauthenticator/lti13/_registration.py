"""Platform registrations: which LMS (issuer + client ids) this hub trusts, and how.

The single-issuer traits of :class:`LTI13Authenticator` form one registration; more
can be added with ``LTI13Authenticator.platforms``. Login initiation picks the
registration from ``iss`` and ``client_id``; the callback verifies the token against
that registration only, so one platform's keys never vouch for another's launch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, FrozenSet, Iterable, List, Mapping, Optional

from .error import IncorrectValueError


@dataclass(frozen=True)
class PlatformRegistration:
    issuer: str
    client_ids: FrozenSet[str]
    authorize_url: str
    jwks_endpoint: str
    deployment_ids: FrozenSet[str] = field(default_factory=frozenset)
    username_key: Optional[str] = None
    name: str = ""
    #: Where the registration was configured, for messages naming the trait to fix.
    source: str = "LTI13Authenticator."

    @property
    def id(self) -> str:
        """Stable identifier kept in the state between login initiation and callback."""
        return self.name or self.issuer


class PlatformRegistry:
    """Finds the registration a login initiation belongs to."""

    def __init__(self, registrations: Iterable[PlatformRegistration]) -> None:
        self.registrations: List[PlatformRegistration] = list(registrations)

    def for_claims(self, claims: Mapping[str, Any]) -> Optional[PlatformRegistration]:
        """The registration a verified token belongs to (its issuer and audience)."""
        aud = claims.get("aud")
        audiences = {aud} if isinstance(aud, str) else set(aud or [])
        for registration in self.registrations:
            if registration.issuer == claims.get("iss") and audiences & registration.client_ids:
                return registration
        return None

    def by_id(self, registration_id: object) -> Optional[PlatformRegistration]:
        for registration in self.registrations:
            if registration.id == registration_id:
                return registration
        return None

    def find(self, issuer: str, client_id: Optional[str]) -> PlatformRegistration:
        candidates = [r for r in self.registrations if r.issuer == issuer]
        if not candidates:
            raise IncorrectValueError(
                "This hub is not registered with the platform that started the launch (iss).",
                reason="unknown_issuer",
                hint="The hub administrator must add the LMS's issuer to the configuration.",
            )
        if client_id:
            for registration in candidates:
                if client_id in registration.client_ids:
                    return registration
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
