"""Names and Role Provisioning Services 2.0: a course's members, as hub usernames.

Members are read page by page (``Link: <…>; rel="next"``), optionally filtered by role
(the platform filters: ``?role=``). Each member's ``user_id`` is the ``sub`` of that
person's launches, which is how they map to hub usernames: through the ``sub`` kept in
``auth_state`` by their launches. Members who never launched have no hub username yet.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._grades import SCOPE_MEMBERSHIPS, ServiceClient, next_link
from ._registration import PlatformRegistration
from ._service_token import ServiceAccessError

MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (existing parameters kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def role_filter(role: str) -> str:
    """A short role name (``Learner``) as the full LIS URI NRPS filters on."""
    if not role or "://" in role or role.startswith("urn:"):
        return role
    return "http://purl.imsglobal.org/vocab/lis/v2/membership#" + role


async def members(
    client: ServiceClient,
    registration: PlatformRegistration,
    client_id: str,
    memberships_url: str,
    role: str = "",
    limit: int = 0,
) -> List[Dict[str, Any]]:
    """Every member of the course (of ``role``), across all pages."""
    url = with_query(memberships_url, role=role_filter(role), limit=str(limit) if limit else "")
    found: List[Dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        document, headers = await client.call(
            registration,
            client_id,
            [SCOPE_MEMBERSHIPS],
            "GET",
            url,
            accept=MEMBERSHIPS_TYPE,
            what="roster",
        )
        if not isinstance(document, dict):
            raise ServiceAccessError(
                f"The platform {registration.slug!r} answered the roster request without a "
                "membership container",
                status=502,
            )
        found += [m for m in document.get("members") or [] if isinstance(m, dict)]
        url = next_link(headers.get("link", ""))
        if not url:
            break
    return found


def with_usernames(
    found: List[Dict[str, Any]], usernames_by_sub: Mapping[str, str]
) -> List[Dict[str, Any]]:
    """The members as the hub API shows them: LMS fields plus the hub username (or None)."""
    shown = []
    for member in found:
        sub = member.get("user_id")
        username: Optional[str] = usernames_by_sub.get(sub) if isinstance(sub, str) else None
        shown.append(
            {
                "user_id": sub,
                "username": username,
                "roles": member.get("roles") or [],
                "status": member.get("status") or "Active",
                "name": member.get("name"),
                "email": member.get("email"),
            }
        )
    return shown
