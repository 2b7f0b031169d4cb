"""The grade and roster flows against another implementation of the platform side:
``lti1p3platform`` from PyPI (its token endpoint validates the client assertion)."""

from __future__ import annotations

import pytest

from tests.support.hub import free_port

from .grades_support import grades_api, grades_config
from .independent_platform import LIS, IndependentPlatform

COURSE = {"id": "course-ind", "label": "IND", "title": "Independent"}


@pytest.fixture(scope="module")
def independent_port() -> int:
    return free_port()


@pytest.fixture
def independent_hub(hub_with, emulator, independent_port):
    return hub_with(
        **grades_config(emulator, token_url=f"http://127.0.0.1:{independent_port}/token")
    )


@pytest.fixture
def independent(independent_hub, independent_port, emulator):
    """The independent platform, trusting the key set of the hub these tests use."""
    platform = IndependentPlatform(
        independent_port,
        issuer=emulator.url,
        client_id=emulator.tool.client_id,
        tool_jwks_url=independent_hub.url + "/hub/lti13/jwks",
    ).start()
    yield platform
    platform.stop()


def launch_into(emulator, client, independent, user, role="student"):
    claims = dict(independent.claims())
    _, url = emulator.start_launch(
        user=user,
        role=role,
        course=COURSE,
        claims={
            **claims,
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {
                "id": "ind-link",
                "title": "Independent notebook",
            },
        },
    )
    result = client.launch(url)
    assert result.callback.status_code == 302, result.callback.text[-600:]
    independent.store.members.append(
        {
            "user_id": f"sub-{user}",
            "roles": [LIS + ("Learner" if role == "student" else "Instructor")],
            "name": user,
            "email": f"{user}@example.edu",
        }
    )
    return f"{user}@example.edu"


def test_grade_reaches_the_independent_platform(
    independent_hub, emulator, independent, client, user
):
    student = launch_into(emulator, client, independent, user)

    response = grades_api(
        independent_hub,
        independent_hub.token,
        "POST",
        "grades/scores",
        json={
            "username": student,
            "resource_link_id": "ind-link",
            "scoreGiven": 9,
            "scoreMaximum": 10,
            "comment": "ok",
        },
    )

    assert response.status_code == 200, response.text
    item = [i for i in independent.store.line_items if i.get("resourceId") == "ind-link"]
    assert len(item) == 1 and item[0]["label"] == "Independent notebook"
    number = item[0]["id"].rsplit("/", 1)[1]
    score = independent.store.scores[(number, f"sub-{user}")]
    assert (score["scoreGiven"], score["scoreMaximum"], score["comment"]) == (9, 10, "ok")
    # read back through the package's results endpoint
    results = grades_api(
        independent_hub,
        independent_hub.token,
        "GET",
        "grades/results?course=course-ind&line_item=ind-link",
    )
    assert results.status_code == 200, results.text
    assert [(r["username"], r["resultScore"]) for r in results.json()["results"]] == [(student, 9)]


def test_roster_pages_through_the_independent_platform(
    independent_hub, emulator, independent, client, user
):
    names = [launch_into(emulator, client, independent, f"{user}r{i}") for i in range(3)]
    launch_into(emulator, client, independent, f"{user}t", role="instructor")
    before = independent.store.token_requests

    response = grades_api(
        independent_hub, independent_hub.token, "GET", "roster?course=course-ind&limit=2"
    )
    learners = grades_api(
        independent_hub,
        independent_hub.token,
        "GET",
        "roster?course=course-ind&limit=2&role=Learner",
    )

    assert response.status_code == 200, response.text
    members = response.json()["members"]
    assert len(members) == len(independent.store.members)  # every page was read
    by_sub = {m["user_id"]: m["username"] for m in members}
    assert [by_sub[f"sub-{user}r{i}"] for i in range(3)] == names
    assert all(LIS + "Learner" in m["roles"] for m in learners.json()["members"])
    assert f"sub-{user}t" not in {m["user_id"] for m in learners.json()["members"]}
    # one token (for the roster scope) served every page of both calls
    assert independent.store.token_requests - before <= 1
