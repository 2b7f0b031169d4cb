"""Helpers for the grade and roster flow tests: a hub with grades on, launches, tokens."""

from __future__ import annotations

import secrets
from typing import Any, Dict, Optional

import requests

from ltiauthenticator.lti13 import constants as c


def grades_config(emulator: Any, **auth: Any) -> Dict[str, Dict[str, Any]]:
    """Grades on, with the emulator's token endpoint. The in-process hub takes it as it
    runs (it started with the routes and the scope of
    ``tests.support.hub.GRADER_HUB_CONFIG``); a hub process of a test's own needs that too."""
    return {
        "LTI13Authenticator": {
            "enable_grades": True,
            "token_url": emulator.url + "/token",
            **auth,
        }
    }


def new_course() -> Dict[str, str]:
    """A course of its own: the emulator's gradebook is shared by the whole session."""
    suffix = secrets.token_hex(4)
    return {"id": f"course-{suffix}", "label": f"NB{suffix}", "title": "Notebooks"}


def launch(
    emulator: Any,
    client: Any,
    user: str,
    course: Dict[str, str],
    role: str = "student",
    link: Optional[str] = "nb-1",
) -> str:
    """A complete launch; returns the hub username."""
    claims = {c.RESOURCE_LINK_CLAIM: {"id": link, "title": "Notebook 1"}} if link else {}
    _, url = emulator.start_launch(user=user, role=role, course=course, claims=claims)
    result = client.launch(url)
    assert result.callback.status_code == 302, result.callback.text[-800:]
    return f"{user}@example.edu"


def own_token(hub: Any, session: requests.Session, username: str) -> str:
    """An API token the logged-in user creates for themselves (all their scopes)."""
    session.get(hub.url + "/hub/token", timeout=10)
    xsrf = session.cookies.get("_xsrf", "")
    response = session.post(
        f"{hub.url}/hub/api/users/{username}/tokens",
        json={"note": "my own token"},
        headers={"X-XSRFToken": xsrf},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def grades_api(
    hub: Any, token: Optional[str], method: str, path: str, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.request(
        method, f"{hub.url}/hub/lti13/api/{path}", headers=headers, timeout=30, **kwargs
    )


def gradebook(emulator: Any, course: Dict[str, str]) -> list:
    """The emulator's gradebook for ``course``, read over HTTP as a person would."""
    response = requests.get(emulator.url + "/gradebook?format=json", timeout=10)
    response.raise_for_status()
    return [row for row in response.json()["grades"] if row["course"] == course["id"]]
