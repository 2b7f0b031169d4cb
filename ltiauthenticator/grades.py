"""Post grades to the LMS and read course rosters through the hub (command line and API).

The hub holds the LTI tool key and talks to the LMS; this client only needs a JupyterHub
API token with the ``custom:lti13:grades`` scope (``JUPYTERHUB_API_TOKEN``) and the
hub's URL (``JUPYTERHUB_API_URL``, as set inside single-user servers and services, or
``--hub-url``). Examples::

    python -m ltiauthenticator.grades score student@example.edu --link nb-1 --score 8 --max 10
    python -m ltiauthenticator.grades score student@example.edu --course 4711 \\
        --line-item "Homework 1" --resource-id hw1 --score 3 --max 5 --comment "Well done"
    python -m ltiauthenticator.grades line-items --course 4711
    python -m ltiauthenticator.grades results --course 4711 --line-item hw1
    python -m ltiauthenticator.grades roster --course 4711 --role Learner

Answers are printed as JSON; errors (with the hub's reason) go to stderr, exit status 1.
Standard library only, so it runs in any Python environment with the token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

__all__ = ["GradesClient", "GradesError", "main"]


class GradesError(Exception):
    """The hub refused the call; ``status`` is its HTTP status, the message its reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def hub_url_from_environment() -> str:
    """The hub's base URL (``…/hub/``) from ``JUPYTERHUB_API_URL`` (``…/hub/api``)."""
    api_url = os.environ.get("JUPYTERHUB_API_URL", "")
    if api_url.rstrip("/").endswith("/api"):
        return api_url.rstrip("/")[: -len("/api")] + "/"
    return api_url


class GradesClient:
    """Calls the hub's ``lti13/api`` endpoints with an API token."""

    def __init__(self, hub_url: str = "", token: str = "", timeout: float = 60) -> None:
        self.hub_url = (hub_url or hub_url_from_environment()).rstrip("/") + "/"
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.timeout = timeout
        if not self.token:
            raise ValueError("no API token: set JUPYTERHUB_API_TOKEN or pass --token")
        if self.hub_url == "/":
            raise ValueError("no hub URL: pass --hub-url (e.g. https://hub.example.edu/hub/)")
        if not self.hub_url.startswith(("http://", "https://")):
            raise ValueError(f"the hub URL must be http(s), got {self.hub_url!r}")

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self.hub_url + "lti13/api/" + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("message") or e.reason
            except ValueError:
                message = e.reason
            raise GradesError(e.code, str(message)) from None

    def post_score(
        self,
        username: str,
        score: Optional[float],
        maximum: Optional[float],
        *,
        course: str = "",
        resource_link_id: str = "",
        line_item: Optional[Dict[str, Any]] = None,
        comment: str = "",
        activity_progress: str = "Completed",
        grading_progress: str = "",
        timestamp: str = "",
    ) -> Dict[str, Any]:
        """Post one user's score on a resource link, or on a line item (found or created)."""
        body: Dict[str, Any] = {"username": username, "activityProgress": activity_progress}
        for key, value in (
            ("course", course),
            ("resource_link_id", resource_link_id),
            ("line_item", line_item),
            ("comment", comment),
            ("gradingProgress", grading_progress),
            ("timestamp", timestamp),
            ("scoreGiven", score),
            ("scoreMaximum", maximum),
        ):
            if value not in (None, ""):
                body[key] = value
        return self._call("POST", "grades/scores", body)

    def line_items(self, course: str, platform: str = "") -> List[Dict[str, Any]]:
        query = urlencode({k: v for k, v in (("course", course), ("platform", platform)) if v})
        return self._call("GET", f"grades/lineitems?{query}")["line_items"]

    def results(self, course: str, line_item: str, platform: str = "") -> Dict[str, Any]:
        params = (("course", course), ("line_item", line_item), ("platform", platform))
        return self._call("GET", "grades/results?" + urlencode({k: v for k, v in params if v}))

    def roster(
        self, course: str, role: str = "", platform: str = "", limit: int = 0
    ) -> List[Dict[str, Any]]:
        params = {"course": course, "role": role, "platform": platform, "limit": limit or ""}
        query = urlencode({k: v for k, v in params.items() if v})
        return self._call("GET", f"roster?{query}")["members"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ltiauthenticator.grades",
        description="Post grades to the LMS and read course rosters through JupyterHub.",
    )
    parser.add_argument("--hub-url", default="", help="e.g. https://hub.example.edu/hub/")
    parser.add_argument("--token", default="", help="default: $JUPYTERHUB_API_TOKEN")
    parser.add_argument("--platform", default="", help="the registration, if ambiguous")
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser("score", help="post one user's score")
    score.add_argument("username", help="the hub username")
    score.add_argument("--course", default="", help="the LMS context id")
    score.add_argument("--link", default="", help="the resource link id")
    score.add_argument("--line-item", default="", help="line item label (found or created)")
    score.add_argument("--resource-id", default="", help="the line item's resourceId")
    score.add_argument("--tag", default="", help="the line item's tag")
    score.add_argument("--score", type=float, default=None)
    score.add_argument("--max", type=float, default=None, dest="maximum")
    score.add_argument("--comment", default="")
    score.add_argument("--activity", default="Completed", help="activityProgress")
    score.add_argument("--grading", default="", help="gradingProgress (default FullyGraded)")

    items = commands.add_parser("line-items", help="list a course's line items")
    items.add_argument("--course", required=True)

    results = commands.add_parser("results", help="a line item's results")
    results.add_argument("--course", required=True)
    results.add_argument("--line-item", required=True, help="its id, resourceId or label")

    roster = commands.add_parser("roster", help="a course's members with hub usernames")
    roster.add_argument("--course", required=True)
    roster.add_argument("--role", default="", help="e.g. Learner or Instructor")
    roster.add_argument("--limit", type=int, default=0, help="page size asked of the LMS")
    return parser


def _run(args: argparse.Namespace) -> Any:
    client = GradesClient(args.hub_url, args.token)
    if args.command == "score":
        line_item = None
        if args.line_item or args.resource_id:
            line_item = {
                "label": args.line_item or args.resource_id,
                **({"resourceId": args.resource_id} if args.resource_id else {}),
                **({"tag": args.tag} if args.tag else {}),
            }
        return client.post_score(
            args.username,
            args.score,
            args.maximum,
            course=args.course,
            resource_link_id=args.link,
            line_item=line_item,
            comment=args.comment,
            activity_progress=args.activity,
            grading_progress=args.grading,
        )
    if args.command == "line-items":
        return client.line_items(args.course, args.platform)
    if args.command == "results":
        return client.results(args.course, args.line_item, args.platform)
    return client.roster(args.course, args.role, args.platform, args.limit)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        answer = _run(args)
    except (GradesError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"error: the hub could not be reached: {e.reason}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
