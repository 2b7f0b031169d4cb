"""The emulated LMS's LTI Advantage services: token endpoint, grades (AGS), roster (NRPS).

The token endpoint checks the tool's client assertion as a strict platform does: the
signature against the tool's JWKS fetched from the hub (``/hub/lti13/jwks``), ``iss`` =
``sub`` = the client id, the audience, expiry and ``jti`` reuse. Line item URLs carry a
query string, as Moodle's do, so a tool appending ``/scores`` after it fails here too.
Knobs let tests play platform quirks: Moodle's 401 until AGS is enabled, Canvas refusing
scores for non-students, failures with a given status.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlencode

import jwt
from tornado import web
from tornado.httpclient import AsyncHTTPClient

from .platform import ROLES, EmulatedPlatform, Launch

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPES = [
    AGS + "lineitem",
    AGS + "lineitem.readonly",
    AGS + "result.readonly",
    AGS + "score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Member:
    user: str
    role: str = "student"

    def document(self) -> Dict[str, Any]:
        return {
            "user_id": f"sub-{self.user}",
            "status": "Active",
            "name": f"{self.user.title()} Example",
            "email": f"{self.user}@example.edu",
            "roles": list(ROLES.get(self.role, [])),
        }


@dataclass
class PlatformServices:
    """The services' state and knobs (tests change them while the platform runs)."""

    platform: EmulatedPlatform
    enabled: bool = True
    #: Moodle before "IMS LTI Assignment and Grade Services" is enabled: every call 401.
    ags_disabled: bool = False
    #: Canvas: scores only for members with the student role.
    scores_for_students_only: bool = True
    token_lifetime: int = 3600
    #: ``aud`` the token endpoint accepts; empty: its own URL.
    token_audience: str = ""
    page_size: int = 3
    #: Scopes the platform grants the tool (a subset of :data:`SCOPES`).
    granted_scopes: Set[str] = field(default_factory=lambda: set(SCOPES))
    #: ``{"score": 503}``: answer that kind of request with that status (once each).
    failures: Dict[str, int] = field(default_factory=dict)
    roster: Dict[str, List[Member]] = field(default_factory=dict)
    line_items: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    #: (line item id, userId) → the latest score.
    scores: Dict[Tuple[str, str], Dict[str, Any]] = field(default_factory=dict)
    tokens: Dict[str, Tuple[Set[str], float]] = field(default_factory=dict)
    used_jtis: Set[str] = field(default_factory=set)
    token_requests: int = 0
    token_errors: List[str] = field(default_factory=list)
    _tool_jwks: Optional[Dict[str, Any]] = None

    @property
    def base(self) -> str:
        return self.platform.issuer

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.base}/ags/{context_id}/lineitems"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.base}/nrps/{context_id}/memberships"

    @property
    def tool_jwks_url(self) -> str:
        return self.platform.tool.keys_url

    def claims(self, launch: Launch) -> Dict[str, Any]:
        """The AGS and NRPS launch claims for a launch into a course."""
        if not self.enabled or launch.course is None:
            return {}
        context_id = launch.course["id"]
        return {
            AGS_CLAIM: {
                "scope": [s for s in SCOPES[:4] if s in self.granted_scopes],
                "lineitems": self.lineitems_url(context_id),
            },
            NRPS_CLAIM: {
                "context_memberships_url": self.memberships_url(context_id),
                "service_versions": ["2.0"],
            },
        }

    def members(self, context_id: str) -> List[Member]:
        """The roster: configured members, then everyone who launched into the course."""
        found = {m.user: m for m in self.roster.get(context_id, [])}
        for launch in self.platform.launches.values():
            if launch.course and launch.course.get("id") == context_id:
                found.setdefault(launch.user, Member(launch.user, launch.role))
        return list(found.values())

    def fail(self, kind: str) -> Optional[int]:
        return self.failures.pop(kind, None)

    def issue_token(self, scopes: Set[str]) -> Dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (scopes, time.time() + self.token_lifetime)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": " ".join(sorted(scopes)),
        }

    async def tool_keys(self, refresh: bool = False) -> Dict[str, Any]:
        if self._tool_jwks is None or refresh:
            response = await AsyncHTTPClient().fetch(self.tool_jwks_url, request_timeout=10)
            self._tool_jwks = json.loads(response.body)
        return self._tool_jwks


def services_of(platform: EmulatedPlatform) -> PlatformServices:
    services = getattr(platform, "services", None)
    if services is None:
        services = PlatformServices(platform)
        platform.services = services  # type: ignore[attr-defined]
    return services


class _ServiceHandler(web.RequestHandler):
    @property
    def services(self) -> PlatformServices:
        return services_of(self.settings["platform"])

    def check_xsrf_cookie(self) -> None:  # machine-to-machine calls
        pass

    def refuse(self, status: int, error: str, description: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish({"error": error, "error_description": description})

    def authorized(self, scope: str, kind: str) -> bool:
        """Checks the bearer token; on refusal, answers and returns False."""
        services = self.services
        if services.ags_disabled:
            self.refuse(401, "invalid_token", "This service is not enabled for the tool")
            return False
        failure = services.fail(kind)
        if failure:
            self.refuse(failure, "server_error", f"injected {failure} for {kind}")
            return False
        header = self.request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        granted = services.tokens.get(token)
        if granted is None or granted[1] < time.time():
            self.refuse(401, "invalid_token", "missing, unknown or expired access token")
            return False
        if scope not in granted[0]:
            self.refuse(403, "insufficient_scope", f"the token lacks {scope}")
            return False
        return True

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            return None


class TokenHandler(_ServiceHandler):
    """The OAuth 2 token endpoint (client credentials with a JWT client assertion)."""

    async def post(self) -> None:
        services = self.services
        services.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(self.request.body.decode()).items()}
        problem = await self._check(form)
        if problem:
            services.token_errors.append(problem)
            self.refuse(400 if "grant" in problem else 401, "invalid_client", problem)
            return
        requested = set(form.get("scope", "").split())
        scopes = requested & services.granted_scopes
        if requested and not scopes:
            self.refuse(400, "invalid_scope", "none of the requested scopes is granted")
            return
        self.set_header("Content-Type", "application/json")
        self.finish(services.issue_token(scopes))

    async def _check(self, form: Dict[str, str]) -> str:
        """What is wrong with the request, or "" when the assertion holds."""
        services = self.services
        if form.get("grant_type") != "client_credentials":
            return "grant_type must be client_credentials"
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return "client_assertion_type must be " + ASSERTION_TYPE
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
        except jwt.PyJWTError:
            return "client_assertion is not a JWT"
        keys = await services.tool_keys()
        if kid not in {k.get("kid") for k in keys.get("keys", [])}:
            keys = await services.tool_keys(refresh=True)
        jwk = next((k for k in keys.get("keys", []) if k.get("kid") == kid), None)
        if jwk is None:
            return f"no tool key with kid {kid!r}"
        client_id = services.platform.tool.client_id
        try:
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                audience=services.token_audience or services.token_url,
                issuer=client_id,
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as e:
            return f"client_assertion rejected: {e}"
        if claims["sub"] != client_id:
            return "client_assertion sub must be the client id"
        if claims["exp"] - claims["iat"] > 300:
            return "client_assertion lives too long"
        if claims["jti"] in services.used_jtis:
            return "client_assertion jti was already used"
        services.used_jtis.add(claims["jti"])
        return ""


class LineItemsHandler(_ServiceHandler):
    """The line items container of a course: GET (paged), POST (create)."""

    def get(self, context_id: str) -> None:
        # a tool holding only the lineitem scope may read too
        scope = AGS + "lineitem.readonly"
        header = self.request.headers.get("Authorization", "")[len("Bearer ") :]
        if AGS + "lineitem" in self.services.tokens.get(header, (set(), 0))[0]:
            scope = AGS + "lineitem"
        if not self.authorized(scope, "lineitems"):
            return
        items = self.services.line_items.get(context_id, [])
        page = int(self.get_query_argument("page", "0") or 0)
        size = self.services.page_size
        chunk = items[page * size : (page + 1) * size]
        if (page + 1) * size < len(items):
            next_url = f"{self.services.lineitems_url(context_id)}?{urlencode({'page': page + 1})}"
            self.set_header("Link", f'<{next_url}>; rel="next"')
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.lineitemcontainer+json")
        self.finish(json.dumps(chunk))

    def post(self, context_id: str) -> None:
        if not self.authorized(AGS + "lineitem", "lineitem"):
            return
        body = self.json_body()
        if not isinstance(body, dict) or not body.get("label") or not body.get("scoreMaximum"):
            self.refuse(400, "invalid_request", "a line item needs label and scoreMaximum")
            return
        items = self.services.line_items.setdefault(context_id, [])
        number = len(items) + 1
        item = {
            **{
                k: body[k]
                for k in ("label", "scoreMaximum", "resourceId", "tag", "resourceLinkId")
                if k in body
            },
            # Moodle-style: the line item URL carries a query string
            "id": f"{self.services.lineitems_url(context_id)}/{number}/lineitem?type_id={number}",
        }
        items.append(item)
        self.set_status(201)
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.lineitem+json")
        self.finish(json.dumps(item))


class ScoresHandler(_ServiceHandler):
    def _item(self, context_id: str, number: str) -> Optional[Dict[str, Any]]:
        items = self.services.line_items.get(context_id, [])
        index = int(number) - 1
        if self.get_query_argument("type_id", "") != number or not 0 <= index < len(items):
            return None
        return items[index]

    def post(self, context_id: str, number: str) -> None:
        if not self.authorized(AGS + "score", "score"):
            return
        item = self._item(context_id, number)
        if item is None:
            self.refuse(404, "not_found", "no such line item (is type_id kept in the URL?)")
            return
        if self.request.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            self.refuse(415, "invalid_request", "scores are application/vnd.ims.lis.v1.score+json")
            return
        score = self.json_body()
        if not isinstance(score, dict) or not score.get("userId") or not score.get("timestamp"):
            self.refuse(400, "invalid_request", "a score needs userId and timestamp")
            return
        member = next(
            (m for m in self.services.members(context_id) if f"sub-{m.user}" == score["userId"]),
            None,
        )
        if member is None or (self.services.scores_for_students_only and member.role != "student"):
            self.refuse(422, "invalid_user", "User not found in course or is not a student")
            return
        self.services.scores[(item["id"], score["userId"])] = score
        self.set_status(204)
        self.finish()


class ResultsHandler(ScoresHandler):
    def get(self, context_id: str, number: str) -> None:  # type: ignore[override]
        if not self.authorized(AGS + "result.readonly", "results"):
            return
        item = self._item(context_id, number)
        if item is None:
            self.refuse(404, "not_found", "no such line item")
            return
        results = [
            {
                "id": f"{item['id']}&user={user_id}",
                "scoreOf": item["id"],
                "userId": user_id,
                "resultScore": score.get("scoreGiven"),
                "resultMaximum": score.get("scoreMaximum"),
                "comment": score.get("comment"),
            }
            for (item_id, user_id), score in self.services.scores.items()
            if item_id == item["id"]
        ]
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.resultcontainer+json")
        self.finish(json.dumps(results))


class MembershipsHandler(_ServiceHandler):
    """NRPS: the course's members, paged (``Link: rel="next"``), filtered by ``role``."""

    def get(self, context_id: str) -> None:
        scope = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
        if not self.authorized(scope, "memberships"):
            return
        role = self.get_query_argument("role", "")
        members = [m.document() for m in self.services.members(context_id)]
        if role:
            members = [m for m in members if role in m["roles"]]
        limit = int(self.get_query_argument("limit", "0") or 0) or self.services.page_size
        page = int(self.get_query_argument("page", "0") or 0)
        chunk = members[page * limit : (page + 1) * limit]
        if (page + 1) * limit < len(members):
            query = {"page": page + 1, "limit": limit, **({"role": role} if role else {})}
            next_url = f"{self.services.memberships_url(context_id)}?{urlencode(query)}"
            self.set_header("Link", f'<{next_url}>; rel="next"')
        self.set_header("Content-Type", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        self.finish(
            json.dumps(
                {
                    "id": self.services.memberships_url(context_id),
                    "context": {"id": context_id},
                    "members": chunk,
                }
            )
        )


def gradebook_rows(services: PlatformServices) -> List[Dict[str, Any]]:
    rows = []
    for context_id, items in services.line_items.items():
        for item in items:
            for (item_id, user_id), score in services.scores.items():
                if item_id == item["id"]:
                    rows.append(
                        {
                            "course": context_id,
                            "line_item": item.get("label"),
                            "user_id": user_id,
                            "score": score.get("scoreGiven"),
                            "maximum": score.get("scoreMaximum"),
                            "comment": score.get("comment", ""),
                        }
                    )
    return rows


def gradebook_html(services: PlatformServices) -> str:
    rows = gradebook_rows(services)
    if not rows:
        return "<h2>Gradebook</h2><p id='gradebook'>No grades yet.</p>"
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(row[k]))}</td>"
            for k in ("line_item", "user_id", "score", "maximum", "comment")
        )
        + "</tr>"
        for row in rows
    )
    return (
        "<h2>Gradebook</h2><table id='gradebook'><tr><th>Column</th><th>Student</th>"
        f"<th>Score</th><th>Out of</th><th>Comment</th></tr>{cells}</table>"
    )


class GradebookHandler(_ServiceHandler):
    """The gradebook: JSON for tests (``?format=json``), HTML for people."""

    def get(self) -> None:
        if self.get_query_argument("format", "") == "json":
            self.finish({"grades": gradebook_rows(self.services)})
            return
        self.finish(f"<!doctype html><title>Gradebook</title>{gradebook_html(self.services)}")


ROUTES = [
    (r"/token", TokenHandler),
    (r"/ags/([^/]+)/lineitems", LineItemsHandler),
    (r"/ags/([^/]+)/lineitems/(\d+)/lineitem/scores", ScoresHandler),
    (r"/ags/([^/]+)/lineitems/(\d+)/lineitem/results", ResultsHandler),
    (r"/nrps/([^/]+)/memberships", MembershipsHandler),
    (r"/gradebook", GradebookHandler),
]

__all__ = ["ROUTES", "Member", "PlatformServices", "gradebook_html", "services_of"]
