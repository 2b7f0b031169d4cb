"""The resolved launch: one value built once by the callback and handed on.

The callback resolves a launch step by step (where the state was remembered, the
verified state, the registration it names, the verified claims, the next URL) and
keeps the result in one :class:`Launch`. ``authenticate``, usernames, roles and metrics
read the registration from it instead of looking it up again from the claims.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ._registration import PlatformRegistration

#: Where a launch's state and nonce state were remembered.
COOKIES = "cookies"
PLATFORM_STORAGE = "storage"


@dataclass(frozen=True)
class Launch:
    registration: PlatformRegistration
    #: The verified fields of the state this hub minted for the login.
    state: Dict[str, Any]
    remembered_in: str = COOKIES
    claims: Dict[str, Any] = field(default_factory=dict)
    #: Where the browser goes after login: a path on this hub, or "" for the default.
    next_url: str = ""


#: The registration of the launch being authenticated, for ``get_username(claims)``,
#: whose one-argument shape subclasses override.
CURRENT_REGISTRATION: ContextVar[Optional[PlatformRegistration]] = ContextVar(
    "lti13_current_registration", default=None
)
