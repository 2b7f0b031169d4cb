"""The hub's grade and roster API, for grading tools (nbgrader, otter, scripts).

Grading tools never hold the tool's private key: they call these endpoints with a
JupyterHub API token, and the hub talks to the LMS. JupyterHub's RBAC decides who may:
the token needs the ``custom:lti13:grades`` scope (defined in
``JupyterHub.custom_scopes`` and granted to a grader service or an instructors' role);
when that scope is not defined, ``admin:users`` is required instead. A student's token
has neither, and is refused with 403. Every call is logged: who, which course, which
user — never a token.

Endpoints (under the hub's base URL, e.g. ``/hub/``):

* ``POST lti13/api/grades/scores`` — a score for one user
* ``GET lti13/api/grades/lineitems?course=…`` — the course's line items
* ``GET lti13/api/grades/results?course=…&line_item=…`` — results of one line item
* ``GET lti13/api/roster?course=…[&role=Learner][&limit=<page size>]`` — the course's
  members, with hub usernames
* ``POST lti13/api/roster/sync`` — a JupyterHub group set to the course's members
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Tuple

from jupyterhub import orm, scopes
from jupyterhub.apihandlers.base import APIHandler
from tornado import web

from . import _roles, _roster
from ._grades import (
    ACTIVITY_PROGRESS,
    GRADING_PROGRESS,
    SCOPE_LINEITEM,
    SCOPE_SCORE,
    SERVICES_KEY,
    ServiceClient,
)
from ._registration import PlatformRegistration
from ._service_token import ServiceAccessError

GRADES_SCOPE = "custom:lti13:grades"
FALLBACK_SCOPE = "admin:users"
MAX_TEXT = 1000


def api_error(status: int, message: str) -> web.HTTPError:
    error = web.HTTPError(status, "%s", message)
    error.jupyterhub_message = message  # type: ignore[attr-defined]  # shown as the JSON message
    return error


def required_scope() -> str:
    """The custom scope when the hub defines it (``JupyterHub.custom_scopes``), else
    ``admin:users`` (JupyterHub 4 has no custom scopes)."""
    return GRADES_SCOPE if GRADES_SCOPE in scopes.scope_definitions else FALLBACK_SCOPE


def read_only(record: Dict[str, Any]) -> bool:
    """Read line items with the scope the launch granted: some platforms (Moodle with
    column management on, lti1p3platform) grant ``lineitem`` but not ``lineitem.readonly``."""
    return SCOPE_LINEITEM not in (record.get("scope") or [])


class _ServicesAPIHandler(APIHandler):
    """Shared checks: the feature is on, the caller holds the scope, the course is known."""

    @property
    def lti_authenticator(self) -> Any:
        return self.authenticator

    @property
    def client(self) -> ServiceClient:
        return self.lti_authenticator.service_client

    def check_access(self) -> str:
        """The caller's name, once RBAC allows the call; 403 otherwise."""
        if not getattr(self.lti_authenticator, "enable_grades", False):
            raise api_error(
                404,
                "Grades and roster services are off: set LTI13Authenticator.enable_grades = True",
            )
        caller = self.current_user
        if caller is None:
            raise api_error(403, "Missing or invalid credentials.")
        scope = required_scope()
        if scope not in self.expanded_scopes:
            self.log.warning(
                "LTI 1.3 grades API: %s was refused %s %s (lacks the %s scope)",
                caller.name,
                self.request.method,
                self.request.path,
                scope,
            )
            raise api_error(
                403,
                f"This token lacks the {scope} scope needed for LMS grades and rosters.",
            )
        kind = "service" if isinstance(caller, orm.Service) else "user"
        return f"{kind} {caller.name}"

    def audit(self, caller: str, action: str, course: str, platform: str, **details: Any) -> None:
        extra = " ".join(f"{k}={v!r}" for k, v in details.items() if v not in (None, ""))
        self.log.info(
            "LTI 1.3 grades API: %s %s course=%r platform=%r %s",
            caller,
            action,
            course,
            platform,
            extra,
        )

    def service_error(self, e: ServiceAccessError) -> web.HTTPError:
        self.log.warning("LTI 1.3 grades API: platform service failed: %s", e.message)
        return api_error(e.status, e.message)

    def registration(self, registration_id: str) -> PlatformRegistration:
        registration = self.lti_authenticator.registry.by_id(registration_id)
        if registration is None:
            raise api_error(
                409,
                f"The platform {registration_id!r} of this launch is no longer configured "
                "in LTI13Authenticator; the user must launch again from the LMS.",
            )
        return registration

    def auth_state_off(self) -> Optional[web.HTTPError]:
        if not self.lti_authenticator.enable_auth_state:
            return api_error(
                409,
                "The hub keeps no launch data: set Authenticator.enable_auth_state = True "
                "(with JUPYTERHUB_CRYPT_KEY) so the hub remembers each launch's grade "
                "service URLs, then have users launch again from the LMS.",
            )
        return None

    async def services_of(self, orm_user: orm.User) -> Optional[Dict[str, Any]]:
        state = await self.users[orm_user].get_auth_state()
        services = (state or {}).get(SERVICES_KEY)
        return services if isinstance(services, dict) else None

    async def course(
        self, course: str, platform: str
    ) -> Tuple[PlatformRegistration, str, Dict[str, Any], Dict[str, str]]:
        """The course's registration, client id, service URLs and hub usernames by sub.

        Read from the launches kept in users' auth_state (every user is read: the URLs
        are the course's, whoever launched; the usernames map roster entries).
        """
        error = self.auth_state_off()
        if error:
            raise error
        found: Dict[str, Tuple[str, Dict[str, Any]]] = {}
        usernames: Dict[str, Dict[str, str]] = {}
        for orm_user in self.db.query(orm.User):
            services = await self.services_of(orm_user)
            if not services:
                continue
            registration_id = services.get("registration", "")
            if platform and registration_id != platform:
                continue
            usernames.setdefault(registration_id, {})[services.get("sub", "")] = orm_user.name
            record = (services.get("contexts") or {}).get(course)
            if record:
                previous = found.get(registration_id)
                known = previous[1] if previous else {}
                merged = {**known, **{k: v for k, v in record.items() if v}}
                found[registration_id] = (services.get("client_id", ""), merged)
        if not found:
            raise api_error(
                404,
                f"No launch from course {course!r} is known: someone must launch the tool from "
                "that course in the LMS first (with LTI13Authenticator.enable_grades on).",
            )
        if len(found) > 1:
            raise api_error(
                400,
                f"Course {course!r} exists on several platforms {sorted(found)}: add "
                "platform=<one of them>.",
            )
        registration_id, (client_id, record) = next(iter(found.items()))
        return self.registration(registration_id), client_id, record, usernames[registration_id]

    def query(self, name: str, required: bool = False) -> str:
        value = self.get_query_argument(name, "").strip()
        if required and not value:
            raise api_error(400, f"The query parameter {name!r} is required.")
        if len(value) > MAX_TEXT:
            raise api_error(400, f"The query parameter {name!r} is too long.")
        return value


def _text(body: Dict[str, Any], name: str, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise api_error(400, f"{name!r} is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise api_error(400, f"{name!r} must be a string, got {type(value).__name__}.")
    value = str(value)
    if len(value) > MAX_TEXT:
        raise api_error(400, f"{name!r} is longer than {MAX_TEXT} characters.")
    return value


def _number(body: Dict[str, Any], name: str, required: bool = False) -> Optional[float]:
    value = body.get(name)
    if value is None:
        if required:
            raise api_error(400, f"{name!r} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise api_error(400, f"{name!r} must be a number, got {value!r}.")
    if value < 0:
        raise api_error(400, f"{name!r} must not be negative, got {value!r}.")
    return value


def score_document(body: Dict[str, Any], sub: str) -> Dict[str, Any]:
    """The AGS score for ``sub`` from the API body, checked field by field."""
    given = _number(body, "scoreGiven")
    maximum = _number(body, "scoreMaximum", required=given is not None)
    if maximum is not None and maximum <= 0:
        raise api_error(400, "'scoreMaximum' must be greater than 0.")
    activity = _text(body, "activityProgress") or "Completed"
    grading = _text(body, "gradingProgress") or ("FullyGraded" if given is not None else "Pending")
    if activity not in ACTIVITY_PROGRESS:
        raise api_error(400, f"'activityProgress' must be one of {sorted(ACTIVITY_PROGRESS)}.")
    if grading not in GRADING_PROGRESS:
        raise api_error(400, f"'gradingProgress' must be one of {sorted(GRADING_PROGRESS)}.")
    timestamp = _text(body, "timestamp")
    if timestamp:
        try:
            parsed = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            raise api_error(400, "'timestamp' must be an ISO 8601 date and time.") from None
        if parsed.tzinfo is None:
            raise api_error(400, "'timestamp' must carry a time zone (e.g. Z or +02:00).")
    else:
        timestamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    score: Dict[str, Any] = {
        "userId": sub,
        "activityProgress": activity,
        "gradingProgress": grading,
        "timestamp": timestamp,
    }
    if given is not None:
        score.update(scoreGiven=given, scoreMaximum=maximum)
    comment = _text(body, "comment")
    if comment:
        score["comment"] = comment
    return score


class ScoresAPIHandler(_ServicesAPIHandler):
    """``POST lti13/api/grades/scores``: one user's score on a resource link or line item.

    Body: ``username``; ``course`` (context id) and/or ``resource_link_id`` (else the
    user's only course); optionally ``line_item`` (``{label, resourceId, tag,
    scoreMaximum}``, found or created); the score fields.
    """

    async def post(self) -> None:
        caller = self.check_access()
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise api_error(400, "The body must be a JSON object.")
        username = _text(body, "username", required=True)
        user = self.find_user(username)
        if user is None:
            raise api_error(404, f"No hub user named {username!r}.")
        error = self.auth_state_off()
        if error:
            raise error
        services = await self.services_of(user.orm_user)
        if not services:
            raise api_error(
                409,
                f"{username!r} has no LTI 1.3 launch with grade services on record: they must "
                "launch the tool from the LMS (with LTI13Authenticator.enable_grades on) first.",
            )
        registration = self.registration(services.get("registration", ""))
        course, record = self._pick_course(body, services, username)
        link_id = _text(body, "resource_link_id")
        score = score_document(body, services.get("sub", ""))
        lineitem_url, label = await self._line_item(body, registration, services, record, link_id)
        try:
            await self.client.post_score(
                registration, services.get("client_id", ""), lineitem_url, score
            )
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        self.audit(
            caller,
            "posted a score",
            course,
            registration.id,
            user=username,
            line_item=label,
            scoreGiven=score.get("scoreGiven"),
        )
        self.write(
            {
                "username": username,
                "course": course,
                "line_item": lineitem_url,
                "score": {k: v for k, v in score.items() if k != "userId"},
            }
        )

    def _pick_course(
        self, body: Dict[str, Any], services: Dict[str, Any], username: str
    ) -> Tuple[str, Dict[str, Any]]:
        contexts = services.get("contexts") or {}
        course = _text(body, "course")
        link_id = _text(body, "resource_link_id")
        if course:
            if course not in contexts:
                raise api_error(
                    409, f"{username!r} has not launched the tool from course {course!r}."
                )
            return course, contexts[course]
        if link_id:
            for context_id, record in contexts.items():
                if link_id in (record.get("links") or {}):
                    return context_id, record
            raise api_error(409, f"{username!r} has not launched from resource link {link_id!r}.")
        if len(contexts) == 1:
            return next(iter(contexts.items()))
        raise api_error(
            400,
            f"{username!r} launched from {len(contexts)} courses: name one with 'course'.",
        )

    async def _line_item(
        self,
        body: Dict[str, Any],
        registration: PlatformRegistration,
        services: Dict[str, Any],
        record: Dict[str, Any],
        link_id: str,
    ) -> Tuple[str, str]:
        """The line item URL to score: named, the link's own, or created for the link."""
        wanted = body.get("line_item")
        link = (record.get("links") or {}).get(link_id) if link_id else None
        if link_id and link is None:
            raise api_error(409, f"The user has not launched from resource link {link_id!r}.")
        if wanted is None:
            if link is None:
                raise api_error(400, "Name a 'resource_link_id' or a 'line_item' to score.")
            if link.get("lineitem"):
                return link["lineitem"], link.get("title", "")
            wanted = {"label": link.get("title") or "Notebook", "resourceId": link_id}
        if not isinstance(wanted, dict):
            raise api_error(400, "'line_item' must be an object with a label or resourceId.")
        item = {k: _text(wanted, k) for k in ("label", "resourceId", "tag") if _text(wanted, k)}
        if not (item.get("label") or item.get("resourceId")):
            raise api_error(400, "'line_item' needs a 'label' or a 'resourceId'.")
        item.setdefault("label", item.get("resourceId", ""))
        item["scoreMaximum"] = (
            _number(wanted, "scoreMaximum") or _number(body, "scoreMaximum") or 100
        )
        if link_id:
            item["resourceLinkId"] = link_id
        scopes = record.get("scope") or []
        if not record.get("lineitems") or SCOPE_LINEITEM not in scopes:
            raise api_error(
                409,
                "The platform does not let the tool manage grade columns in this course (no "
                "line items URL or lineitem scope in the launch): on Moodle choose 'Use this "
                "service for grade sync and column management'; on Canvas enable the line "
                "item scope of the developer key.",
            )
        if SCOPE_SCORE not in scopes:
            raise api_error(409, "The platform does not grant the score scope in this course.")
        try:
            found = await self.client.find_or_create_line_item(
                registration, services.get("client_id", ""), record["lineitems"], item
            )
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        return found["id"], found.get("label", "")


class LineItemsAPIHandler(_ServicesAPIHandler):
    """``GET lti13/api/grades/lineitems?course=…[&platform=…]``"""

    async def get(self) -> None:
        caller = self.check_access()
        course, platform = self.query("course", required=True), self.query("platform")
        registration, client_id, record, _ = await self.course(course, platform)
        if not record.get("lineitems"):
            raise api_error(409, f"The launches from course {course!r} carry no line items URL.")
        try:
            items = await self.client.line_items(
                registration, client_id, record["lineitems"], readonly=read_only(record)
            )
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        self.audit(caller, "listed line items", course, registration.id)
        self.write({"course": course, "platform": registration.id, "line_items": items})


class ResultsAPIHandler(_ServicesAPIHandler):
    """``GET lti13/api/grades/results?course=…&line_item=<id, resourceId or label>``"""

    async def get(self) -> None:
        caller = self.check_access()
        course, platform = self.query("course", required=True), self.query("platform")
        wanted = self.query("line_item", required=True)
        registration, client_id, record, usernames = await self.course(course, platform)
        if not record.get("lineitems"):
            raise api_error(409, f"The launches from course {course!r} carry no line items URL.")
        try:
            items = await self.client.line_items(
                registration, client_id, record["lineitems"], readonly=read_only(record)
            )
            matches = [
                i for i in items if wanted in (i.get("id"), i.get("resourceId"), i.get("label"))
            ]
            if not matches:
                raise api_error(404, f"No line item {wanted!r} in course {course!r}.")
            results = await self.client.results(registration, client_id, matches[0]["id"])
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        for result in results:
            result["username"] = usernames.get(result.get("userId"))
        self.audit(caller, "read results", course, registration.id, line_item=wanted)
        self.write({"course": course, "line_item": matches[0], "results": results})


class RosterAPIHandler(_ServicesAPIHandler):
    """``GET lti13/api/roster?course=…[&role=Learner][&platform=…]``"""

    async def get(self) -> None:
        caller = self.check_access()
        course, platform = self.query("course", required=True), self.query("platform")
        role, limit = self.query("role"), self.query("limit")
        if limit and (not limit.isdigit() or not 0 < int(limit) <= 1000):
            raise api_error(400, "'limit' (members per page asked of the LMS) must be 1-1000.")
        registration, client_id, record, usernames = await self.course(course, platform)
        if not record.get("memberships_url"):
            raise api_error(
                409,
                f"The launches from course {course!r} carry no roster URL: enable the Names "
                "and Role Provisioning service for the tool in the LMS.",
            )
        try:
            found = await _roster.members(
                self.client,
                registration,
                client_id,
                record["memberships_url"],
                role=role,
                limit=int(limit or 0),
            )
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        self.audit(caller, "read the roster", course, registration.id, role=role)
        members: List[Dict[str, Any]] = _roster.with_usernames(found, usernames)
        self.write({"course": course, "platform": registration.id, "members": members})


SYNC_GROUP_SUFFIX = {"Learner": "learners", "Instructor": "instructors"}


class RosterSyncAPIHandler(_ServicesAPIHandler):
    """``POST lti13/api/roster/sync``: a JupyterHub group's members set to the course's.

    Body: ``course``, optionally ``role`` (``Learner``…), ``platform`` and ``group``
    (default ``<course key>-learners`` / ``-instructors`` / ``-members``, the names
    ``role_groups`` uses by default). Members without a hub account (never launched) are
    counted, not created. Needs the ``admin:groups`` scope as well.
    """

    async def post(self) -> None:
        caller = self.check_access()
        if "admin:groups" not in self.expanded_scopes:
            raise api_error(403, "Syncing a roster into a group also needs the admin:groups scope.")
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise api_error(400, "The body must be a JSON object.")
        course, platform = _text(body, "course", required=True), _text(body, "platform")
        role = _text(body, "role")
        registration, client_id, record, usernames = await self.course(course, platform)
        if not record.get("memberships_url"):
            raise api_error(409, f"The launches from course {course!r} carry no roster URL.")
        try:
            found = await _roster.members(
                self.client, registration, client_id, record["memberships_url"], role=role
            )
        except ServiceAccessError as e:
            raise self.service_error(e) from None
        group_name = self._group_name(body, registration, course, role)
        wanted = {
            m["username"]
            for m in _roster.with_usernames(found, usernames)
            if m["username"] and m["status"] == "Active"
        }
        added, removed = self._set_members(group_name, wanted)
        self.audit(caller, "synced the roster", course, registration.id, group=group_name)
        self.write(
            {
                "group": group_name,
                "added": sorted(added),
                "removed": sorted(removed),
                "members_without_account": len(found) - len(wanted),
            }
        )

    def _group_name(
        self, body: Dict[str, Any], registration: PlatformRegistration, course: str, role: str
    ) -> str:
        limit = self.lti_authenticator.max_group_name_length
        requested = _text(body, "group")
        if requested:
            name = _roles.sanitize_name(requested, limit)
            if name != requested:
                raise api_error(
                    400, f"'group' must be a name like {name!r} (lowercase a-z 0-9 . _ ~ -)."
                )
            return name
        suffix = SYNC_GROUP_SUFFIX.get(role, "members")
        return _roles.sanitize_name(
            f"{_roles.course_key(registration.slug, course)}-{suffix}", limit
        )

    def _set_members(self, group_name: str, wanted: set) -> Tuple[List[str], List[str]]:
        group = orm.Group.find(self.db, group_name)
        if group is None:
            group = orm.Group(name=group_name)
            self.db.add(group)
        current = {user.name for user in group.users}
        added = wanted - current
        removed = current - wanted
        for name in added:
            orm_user = orm.User.find(self.db, name)
            if orm_user is not None:
                group.users.append(orm_user)
        group.users = [u for u in group.users if u.name not in removed]
        self.db.commit()
        return list(added), list(removed)


HANDLERS = [
    ("lti13/api/grades/scores", ScoresAPIHandler),
    ("lti13/api/grades/lineitems", LineItemsAPIHandler),
    ("lti13/api/grades/results", ResultsAPIHandler),
    ("lti13/api/roster", RosterAPIHandler),
    ("lti13/api/roster/sync", RosterSyncAPIHandler),
]
