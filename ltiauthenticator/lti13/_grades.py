"""Assignment and Grade Services 2.0: what launches leave for grading, and the AGS client.

Each launch with the AGS or NRPS claim leaves a compact ``lti13_services`` entry in the
user's ``auth_state``: the registration, the user's ``sub``, and per course and
resource link the service URLs. Entries of earlier launches are kept (merged), so a
student's score can be posted for any link they launched from, after a hub restart too.

The client finds a line item by ``resourceId``/``tag``/label or creates it once (a lock
per container and resource id: parallel posts create one column), posts scores to
``<lineitem>/scores`` (before any query string: Moodle's line item URLs carry one) and
reads results. Platform refusals become errors telling the admin what to change.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from . import constants as c
from ._registration import PlatformRegistration
from ._service_token import ServiceAccessError, ServiceTokens, platform_error_detail

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM = AGS + "lineitem"
SCOPE_LINEITEM_READONLY = AGS + "lineitem.readonly"
SCOPE_RESULT_READONLY = AGS + "result.readonly"
SCOPE_SCORE = AGS + "score"
SCOPE_MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
#: What the hub asks for at registration (Canvas config JSON) when grades are enabled.
SERVICE_SCOPES = [
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    SCOPE_MEMBERSHIPS,
]
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"

SERVICES_KEY = "lti13_services"
#: Bounds on what auth_state keeps, so a user launching from many links stays small.
MAX_CONTEXTS = 30
MAX_LINKS = 100

ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


# -- capture ---------------------------------------------------------------------------


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def launch_client_id(claims: Mapping[str, Any]) -> str:
    """The client id the launch was issued to: ``azp``, else the single audience."""
    azp = claims.get("azp")
    if isinstance(azp, str) and azp:
        return azp
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and aud and isinstance(aud[0], str):
        return aud[0]
    return ""


def services_entry(
    claims: Mapping[str, Any], registration: Optional[PlatformRegistration]
) -> Optional[Dict[str, Any]]:
    """The compact record of one launch's services, or None when it offers none."""
    ags = claims.get(AGS_CLAIM) if isinstance(claims.get(AGS_CLAIM), dict) else {}
    nrps = claims.get(NRPS_CLAIM) if isinstance(claims.get(NRPS_CLAIM), dict) else {}
    context = claims.get(c.CONTEXT_CLAIM) if isinstance(claims.get(c.CONTEXT_CLAIM), dict) else {}
    link = claims.get(c.RESOURCE_LINK_CLAIM)
    link = link if isinstance(link, dict) else {}
    context_id = _string(context.get("id"))
    if registration is None or not context_id or not (ags or nrps):
        return None
    course: Dict[str, Any] = {
        "title": _string(context.get("title")) or _string(context.get("label")),
        "lineitems": _string(ags.get("lineitems")),
        "scope": [s for s in ags.get("scope") or [] if isinstance(s, str)],
        "memberships_url": _string(nrps.get("context_memberships_url")),
        "links": {},
    }
    link_id = _string(link.get("id"))
    if link_id:
        course["links"][link_id] = {
            "title": _string(link.get("title")),
            "lineitem": _string(ags.get("lineitem")),
        }
    return {
        "registration": registration.id,
        "issuer": _string(claims.get("iss")),
        "client_id": launch_client_id(claims),
        "deployment_id": _string(claims.get(c.DEPLOYMENT_ID_CLAIM)),
        "sub": _string(claims.get("sub")),
        "contexts": {context_id: course},
    }


def merge_services(previous: Any, new: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """``new`` with the courses and links of ``previous`` (same registration and sub).

    The latest launch wins for the service URLs; older links stay so their grades can
    still be posted. Bounded by :data:`MAX_CONTEXTS` and :data:`MAX_LINKS`.
    """
    if new is None:
        return previous if isinstance(previous, dict) else None
    if not isinstance(previous, dict) or (previous.get("registration"), previous.get("sub")) != (
        new["registration"],
        new["sub"],
    ):
        return new
    contexts = dict(previous.get("contexts") or {})
    for context_id, course in new["contexts"].items():
        old = contexts.pop(context_id, None) or {}
        links = dict(old.get("links") or {})
        for link_id, link in course["links"].items():
            links.pop(link_id, None)
            links[link_id] = link
        merged = {**old, **{k: v for k, v in course.items() if v}, "links": links}
        merged["links"] = dict(list(links.items())[-MAX_LINKS:])
        contexts[context_id] = merged  # most recent last
    new = dict(new)
    new["contexts"] = dict(list(contexts.items())[-MAX_CONTEXTS:])
    return new


# -- the AGS client --------------------------------------------------------------------


def scores_url(lineitem_url: str) -> str:
    """``<lineitem>/scores``, keeping any query string after the path (Moodle)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def results_url(lineitem_url: str) -> str:
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/results"))


def next_link(link_header: str) -> str:
    """The ``rel="next"`` URL of a ``Link`` header, or ""."""
    for part in link_header.split(","):
        url, _, params = part.partition(";")
        rels = [p.strip() for p in params.split(";")]
        if any(r.replace(" ", "") in ('rel="next"', "rel=next") for r in rels):
            return url.strip().strip("<>")
    return ""


def refusal_message(
    status: int, body: bytes, registration: PlatformRegistration, what: str
) -> ServiceAccessError:
    """The platform's refusal of a service call, as an error the admin can act on."""
    detail = platform_error_detail(body)
    name = registration.slug
    if status == 401:
        hint = (
            "The platform did not accept the service token. On Moodle, set 'IMS LTI "
            "Assignment and Grade Services' to 'Use this service for grade sync and column "
            "management' (and 'IMS LTI Names and Role Provisioning' to 'Use this service') "
            "in the tool's settings; on Canvas, enable the developer key's LTI Advantage "
            "scopes."
        )
    elif status == 403:
        hint = (
            "The platform does not allow the tool this service here: check the tool's "
            "service settings for this course."
        )
    elif status in (400, 422) and what == "score":
        hint = (
            "The platform refused the score: Canvas accepts scores only for students "
            "enrolled in the course (not instructors or test users); Brightspace only for "
            "roles with 'Can be graded'; the score must be at most the column's maximum "
            "unless the platform allows exceeding it."
        )
    elif status == 404:
        hint = (
            "The line item or service URL does not exist (any more) on the platform: the "
            "column may have been deleted."
        )
    elif status >= 500:
        hint = "The platform had an internal error; try again later."
    else:
        hint = ""
    return ServiceAccessError(
        f"The platform {name!r} answered HTTP {status} to the {what} request "
        f"({detail}). {hint}".strip(),
        status=502 if status >= 500 or status == 401 else 409 if status in (403, 404) else 422,
        platform_status=status,
    )


class ServiceClient:
    """Calls the platform's AGS and NRPS endpoints with cached service tokens."""

    def __init__(self, tokens: ServiceTokens, http_client: Any = None, timeout: float = 30):
        self.tokens = tokens
        self._http_client = http_client or AsyncHTTPClient
        self.timeout = timeout
        self._create_locks: Dict[Tuple[str, str, str], asyncio.Lock] = {}

    async def call(
        self,
        registration: PlatformRegistration,
        client_id: str,
        scopes: List[str],
        method: str,
        url: str,
        *,
        accept: str,
        what: str,
        body: Any = None,
        content_type: str = "",
    ) -> Tuple[Any, Dict[str, str]]:
        """One service request: its JSON answer and headers. Retried once with a fresh
        token when the platform says the cached one is no longer valid (401)."""
        for attempt in (1, 2):
            token = await self.tokens.token(registration, client_id, scopes)
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            if content_type:
                headers["Content-Type"] = content_type
            request = HTTPRequest(
                url,
                method=method,
                headers=headers,
                body=json.dumps(body) if body is not None else None,
                request_timeout=self.timeout,
                follow_redirects=False,
            )
            try:
                response = await self._http_client().fetch(request)
            except HTTPClientError as e:
                if e.code == 401 and attempt == 1:
                    self.tokens.forget(registration, client_id, scopes)
                    continue
                raise refusal_message(
                    e.code, e.response.body if e.response is not None else b"", registration, what
                ) from None
            except (OSError, asyncio.TimeoutError) as e:
                raise ServiceAccessError(
                    f"The platform {registration.slug!r} could not be reached for the {what} "
                    f"request: {e.__class__.__name__}",
                    status=504,
                ) from None
            try:
                document = json.loads(response.body) if response.body else None
            except ValueError:
                raise ServiceAccessError(
                    f"The platform {registration.slug!r} answered the {what} request with "
                    "something that is not JSON",
                    status=502,
                ) from None
            return document, {k.lower(): v for k, v in response.headers.get_all()}
        raise AssertionError("unreachable")

    async def line_items(
        self,
        registration: PlatformRegistration,
        client_id: str,
        lineitems_url: str,
        readonly: bool = True,
    ) -> List[Dict[str, Any]]:
        """All line items of a course container, following ``Link: rel="next"``."""
        scopes = [SCOPE_LINEITEM_READONLY] if readonly else [SCOPE_LINEITEM]
        items: List[Dict[str, Any]] = []
        url = lineitems_url
        for _ in range(100):  # a platform looping its pages must not hang the hub
            document, headers = await self.call(
                registration,
                client_id,
                scopes,
                "GET",
                url,
                accept=LINEITEMS_TYPE,
                what="line items",
            )
            items += [i for i in (document or []) if isinstance(i, dict)]
            url = next_link(headers.get("link", ""))
            if not url:
                break
        return items

    async def find_or_create_line_item(
        self,
        registration: PlatformRegistration,
        client_id: str,
        lineitems_url: str,
        wanted: Dict[str, Any],
    ) -> Dict[str, Any]:
        """The line item matching ``wanted`` (resourceId, then tag, then label), created
        once when none does, however many posts arrive at the same time."""
        key = (registration.id, lineitems_url, wanted.get("resourceId") or wanted.get("label", ""))
        lock = self._create_locks.setdefault(key, asyncio.Lock())
        async with lock:
            items = await self.line_items(registration, client_id, lineitems_url, readonly=False)
            found = match_line_item(items, wanted)
            if found is not None:
                return found
            document, _ = await self.call(
                registration,
                client_id,
                [SCOPE_LINEITEM],
                "POST",
                lineitems_url,
                accept=LINEITEM_TYPE,
                content_type=LINEITEM_TYPE,
                body=wanted,
                what="line item creation",
            )
            # some platforms answer a creation with a list holding the new item
            if isinstance(document, list) and document:
                document = document[0]
            if not isinstance(document, dict) or not document.get("id"):
                raise ServiceAccessError(
                    f"The platform {registration.slug!r} created a line item but did not "
                    "return its id",
                    status=502,
                )
            return document

    async def post_score(
        self,
        registration: PlatformRegistration,
        client_id: str,
        lineitem_url: str,
        score: Dict[str, Any],
    ) -> None:
        await self.call(
            registration,
            client_id,
            [SCOPE_SCORE],
            "POST",
            scores_url(lineitem_url),
            accept="application/json",
            content_type=SCORE_TYPE,
            body=score,
            what="score",
        )

    async def results(
        self, registration: PlatformRegistration, client_id: str, lineitem_url: str
    ) -> List[Dict[str, Any]]:
        results: List[Dict[str, Any]] = []
        url = results_url(lineitem_url)
        for _ in range(100):
            document, headers = await self.call(
                registration,
                client_id,
                [SCOPE_RESULT_READONLY],
                "GET",
                url,
                accept=RESULTS_TYPE,
                what="results",
            )
            results += [r for r in (document or []) if isinstance(r, dict)]
            url = next_link(headers.get("link", ""))
            if not url:
                break
        return results


def match_line_item(items: List[Dict[str, Any]], wanted: Dict[str, Any]) -> Optional[Dict]:
    """The first item with the wanted resourceId, else tag, else label (when given)."""
    for field in ("resourceId", "tag", "label"):
        value = wanted.get(field)
        if not value:
            continue
        for item in items:
            if item.get(field) == value and (
                field == "label"
                or not wanted.get("resourceLinkId")
                or item.get("resourceLinkId") in (None, "", wanted.get("resourceLinkId"))
            ):
                return item
        return None  # the most specific field given decides: no fallback to a looser one
    return None
