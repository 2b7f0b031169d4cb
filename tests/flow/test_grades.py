"""Grades and roster through a real JupyterHub and the emulator's AGS/NRPS services."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ltiauthenticator.platform_emulator.services import Member, services_of

from .grades_support import gradebook, grades_api, grades_config, launch, new_course, own_token


@pytest.fixture
def grades_hub(hub_with, emulator):
    return hub_with(**grades_config(emulator))


@pytest.fixture
def services(emulator):
    services = services_of(emulator.platform)
    yield services
    # knobs back to a well-behaved platform for the next test
    services.ags_disabled = False
    services.failures.clear()
    services.scores_for_students_only = True


@pytest.fixture
def grader(grades_hub):
    """The grading service's token (the tests service holds custom:lti13:grades)."""
    return grades_hub.token


def post_score(hub, token, **body):
    return grades_api(hub, token, "POST", "grades/scores", json=body)


def test_grade_posted_appears_in_the_platform_gradebook(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    student = launch(emulator, client, user, course)

    response = post_score(
        grades_hub,
        grader,
        username=student,
        resource_link_id="nb-1",
        scoreGiven=7.5,
        scoreMaximum=10,
        comment="Well done",
    )

    assert response.status_code == 200, response.text
    rows = gradebook(emulator, course)
    assert [(r["user_id"], r["score"], r["maximum"], r["comment"]) for r in rows] == [
        (f"sub-{user}", 7.5, 10, "Well done")
    ]
    # the line item was created for the link, named after it
    items = services.line_items[course["id"]]
    assert [(i["label"], i["resourceId"], i["resourceLinkId"]) for i in items] == [
        ("Notebook 1", "nb-1", "nb-1")
    ]
    # the course page of the LMS shows it too
    page = requests.get(emulator.url + "/", timeout=10).text
    assert f"sub-{user}" in page and "Well done" in page
    # audited: who, which course, which user; never the token
    log = grades_hub.log_text()
    audit = [line for line in log.splitlines() if "posted a score" in line and student in line]
    assert audit and "service tests posted" in audit[-1] and course["id"] in audit[-1]
    assert grader not in log


def test_line_item_created_once_when_scores_arrive_together(
    grades_hub, emulator, services, user, grader
):
    course = new_course()
    from tests.support.client import LaunchClient

    students = [launch(emulator, LaunchClient(), f"{user}s{i}", course) for i in range(6)]

    with ThreadPoolExecutor(len(students)) as pool:
        responses = list(
            pool.map(
                lambda name: post_score(
                    grades_hub,
                    grader,
                    username=name,
                    course=course["id"],
                    line_item={"label": "Homework 1", "resourceId": "hw1"},
                    scoreGiven=3,
                    scoreMaximum=5,
                ),
                students,
            )
        )

    assert [r.status_code for r in responses] == [200] * len(students), responses[0].text
    assert len(services.line_items[course["id"]]) == 1
    assert sorted(r["user_id"] for r in gradebook(emulator, course)) == sorted(
        f"sub-{name.split('@')[0]}" for name in students
    )


def test_service_token_is_reused_between_calls(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    student = launch(emulator, client, user, course)
    errors_before = len(services.token_errors)  # the emulator is the whole session's
    assert (
        post_score(
            grades_hub,
            grader,
            username=student,
            resource_link_id="nb-1",
            scoreGiven=1,
            scoreMaximum=2,
        ).status_code
        == 200
    )
    before = services.token_requests

    for given in (1.5, 2):
        response = post_score(
            grades_hub,
            grader,
            username=student,
            resource_link_id="nb-1",
            scoreGiven=given,
            scoreMaximum=2,
        )
        assert response.status_code == 200, response.text

    assert services.token_requests == before
    assert gradebook(emulator, course)[0]["score"] == 2
    assert services.token_errors[errors_before:] == []


def test_student_and_unscoped_tokens_are_refused(grades_hub, emulator, services, client, user):
    course = new_course()
    student = launch(emulator, client, user, course)
    own = own_token(grades_hub, client.session, student)  # every scope the student has
    body = {"username": student, "resource_link_id": "nb-1", "scoreGiven": 10, "scoreMaximum": 10}

    for token in (own, None, "not-a-token"):
        response = post_score(grades_hub, token, **body)
        assert response.status_code == 403, response.text
    assert "custom:lti13:grades" in post_score(grades_hub, own, **body).json()["message"]
    # the student's browser session (cookie, with the XSRF token) is refused as well
    xsrf = client.session.cookies.get("_xsrf", "")
    response = client.session.post(
        grades_hub.url + "/hub/lti13/api/grades/scores",
        json=body,
        headers={"X-XSRFToken": xsrf},
        timeout=10,
    )
    assert response.status_code == 403
    for path in ("grades/lineitems", "roster", "grades/results"):
        response = grades_api(grades_hub, own, "GET", f"{path}?course={course['id']}")
        assert response.status_code == 403
    assert gradebook(emulator, course) == []


@pytest.mark.parametrize(
    "setup, status, words",
    [
        ("ags_disabled", 502, ["401", "Moodle", "Assignment and Grade Services"]),
        ("score_503", 502, ["503", "internal error"]),
        ("score_403", 409, ["403", "does not allow"]),
        ("instructor", 422, ["422", "Canvas accepts scores only for students"]),
    ],
)
def test_platform_refusals_become_actionable_errors(
    grades_hub, emulator, services, client, user, grader, setup, status, words
):
    course = new_course()
    student = launch(
        emulator, client, user, course, role="instructor" if setup == "instructor" else "student"
    )
    if setup == "ags_disabled":
        services.ags_disabled = True
    elif setup.startswith("score_"):
        services.failures["score"] = int(setup[-3:])
    # the line item exists already for the failure cases on scores
    response = post_score(
        grades_hub, grader, username=student, resource_link_id="nb-1", scoreGiven=1, scoreMaximum=1
    )

    assert response.status_code == status, response.text
    message = response.json()["message"]
    for word in words:
        assert word in message
    assert gradebook(emulator, course) == []


STUDENT = object()  # stands for the launched student's username
LINK = {"username": STUDENT, "resource_link_id": "nb-1"}


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"resource_link_id": "nb-1", "scoreGiven": 1, "scoreMaximum": 2}, 400, ["username"]),
        ({"username": "nobody-here", "resource_link_id": "nb-1"}, 404, ["nobody-here"]),
        ({**LINK, "scoreGiven": "ten", "scoreMaximum": 10}, 400, ["scoreGiven", "number"]),
        ({**LINK, "scoreGiven": 1}, 400, ["scoreMaximum"]),
        ({**LINK, "scoreGiven": -1, "scoreMaximum": 2}, 400, ["negative"]),
        ({**LINK, "scoreGiven": 1, "scoreMaximum": 0}, 400, ["greater than 0"]),
        (
            {**LINK, "scoreGiven": 1, "scoreMaximum": 2, "activityProgress": "Done"},
            400,
            ["Completed"],
        ),
        ({**LINK, "scoreGiven": 1, "scoreMaximum": 2, "timestamp": "yesterday"}, 400, ["ISO 8601"]),
        (
            {**LINK, "scoreGiven": 1, "scoreMaximum": 2, "timestamp": "2026-01-01T10:00:00"},
            400,
            ["time zone"],
        ),
        ({**LINK, "scoreGiven": 1, "scoreMaximum": 2, "comment": ["x"]}, 400, ["comment"]),
        (
            {"username": STUDENT, "course": "other", "scoreGiven": 1, "scoreMaximum": 2},
            409,
            ["other"],
        ),
        (
            {"username": STUDENT, "resource_link_id": "nb-9", "scoreGiven": 1, "scoreMaximum": 2},
            409,
            ["nb-9"],
        ),
        (
            {"username": STUDENT, "line_item": "x", "scoreGiven": 1, "scoreMaximum": 2},
            400,
            ["line_item"],
        ),
        (
            {"username": STUDENT, "line_item": {"tag": "x"}, "scoreGiven": 1, "scoreMaximum": 2},
            400,
            ["label"],
        ),
        ({"username": STUDENT, "scoreGiven": 1, "scoreMaximum": 2}, 400, ["resource_link_id"]),
    ],
)
def test_bad_score_requests_get_4xx_with_reasons(
    grades_hub, emulator, services, client, user, grader, body, status, words
):
    course = new_course()
    student = launch(emulator, client, user, course)
    body = {k: student if v is STUDENT else v for k, v in body.items()}
    response = post_score(grades_hub, grader, **body)
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["message"]
    assert gradebook(emulator, course) == []


def test_invalid_json_is_a_400(grades_hub, grader):
    response = grades_api(grades_hub, grader, "POST", "grades/scores", data=b"{not json")
    assert response.status_code == 400
    response = grades_api(grades_hub, grader, "POST", "grades/scores", json=[1, 2])
    assert response.status_code == 400 and "JSON object" in response.json()["message"]


def test_line_items_and_results_read_back(grades_hub, emulator, services, client, user, grader):
    course = new_course()
    student = launch(emulator, client, user, course)
    assert (
        post_score(
            grades_hub,
            grader,
            username=student,
            course=course["id"],
            line_item={"label": "Quiz", "resourceId": "quiz"},
            scoreGiven=4,
            scoreMaximum=4,
        ).status_code
        == 200
    )
    # more items than one page of the platform's container (3 per page)
    for n in range(4):
        assert (
            post_score(
                grades_hub,
                grader,
                username=student,
                course=course["id"],
                line_item={"label": f"Extra {n}"},
                scoreGiven=0,
                scoreMaximum=1,
            ).status_code
            == 200
        )

    items = grades_api(grades_hub, grader, "GET", f"grades/lineitems?course={course['id']}")
    results = grades_api(
        grades_hub, grader, "GET", f"grades/results?course={course['id']}&line_item=quiz"
    )

    assert items.status_code == 200, items.text
    assert sorted(i["label"] for i in items.json()["line_items"]) == [
        "Extra 0",
        "Extra 1",
        "Extra 2",
        "Extra 3",
        "Quiz",
    ]
    assert results.status_code == 200, results.text
    assert [(r["username"], r["resultScore"]) for r in results.json()["results"]] == [(student, 4)]
    missing = grades_api(grades_hub, grader, "GET", "grades/lineitems?course=nope")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    no_course = grades_api(grades_hub, grader, "GET", "grades/lineitems")
    assert no_course.status_code == 400 and "course" in no_course.json()["message"]


def test_roster_pages_through_members_and_maps_usernames(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    services.roster[course["id"]] = [Member(f"{user}m{i}", "student") for i in range(6)] + [
        Member(f"{user}teacher", "instructor")
    ]
    student = launch(emulator, client, f"{user}m2", course)

    everyone = grades_api(grades_hub, grader, "GET", f"roster?course={course['id']}")
    learners = grades_api(grades_hub, grader, "GET", f"roster?course={course['id']}&role=Learner")

    assert everyone.status_code == 200, everyone.text
    members = everyone.json()["members"]
    assert len(members) == 7  # three pages of three
    assert {m["user_id"]: m["username"] for m in members}[f"sub-{user}m2"] == student
    assert sum(m["username"] is not None for m in members) == 1
    assert len(learners.json()["members"]) == 6
    assert all(
        any("membership#Learner" in r for r in m["roles"]) for m in learners.json()["members"]
    )
    assert "read the roster" in grades_hub.log_text()


def test_config_json_advertises_service_scopes_only_when_enabled(grades_hub, hub_with):
    enabled = requests.get(grades_hub.url + "/hub/lti13/config", timeout=10).json()["scopes"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in enabled
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in enabled
    plain = hub_with()
    assert requests.get(plain.url + "/hub/lti13/config", timeout=10).json()["scopes"] == []
    # and the API is not there when the feature is off
    assert grades_api(plain, plain.token, "GET", "roster?course=x").status_code == 404


def test_without_auth_state_the_api_asks_the_admin_to_enable_it(hub_with, emulator, client, user):
    config = grades_config(emulator)
    config["Authenticator"] = {"enable_auth_state": False}
    hub = hub_with(**config)
    course = new_course()
    student = launch(emulator, client, user, course)

    score = post_score(
        hub, hub.token, username=student, resource_link_id="nb-1", scoreGiven=1, scoreMaximum=1
    )
    roster = grades_api(hub, hub.token, "GET", f"roster?course={course['id']}")

    for response in (score, roster):
        assert response.status_code == 409, response.text
        assert "enable_auth_state = True" in response.json()["message"]


def test_revoked_service_token_is_replaced_and_earlier_links_stay_gradable(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    student = launch(emulator, client, user, course, link="nb-1")
    launch(emulator, client, user, course, link="nb-2")  # a later launch, another link
    assert (
        post_score(
            grades_hub,
            grader,
            username=student,
            resource_link_id="nb-2",
            scoreGiven=1,
            scoreMaximum=1,
        ).status_code
        == 200
    )
    services.tokens.clear()  # the platform forgets every token it issued
    before = services.token_requests

    response = post_score(
        grades_hub, grader, username=student, resource_link_id="nb-1", scoreGiven=2, scoreMaximum=2
    )

    assert response.status_code == 200, response.text
    assert services.token_requests > before  # a new token was fetched after the 401
    assert sorted(r["line_item"] for r in gradebook(emulator, course)) == [
        "Notebook 1",
        "Notebook 1",
    ]
    assert {i["resourceId"] for i in services.line_items[course["id"]]} == {"nb-1", "nb-2"}


def test_course_without_grade_service_gets_409s_naming_the_setting(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    ags = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
    _, url = emulator.start_launch(user=user, course=course, claims={ags: None})
    assert client.launch(url).callback.status_code == 302
    student = f"{user}@example.edu"

    score = post_score(
        grades_hub,
        grader,
        username=student,
        course=course["id"],
        line_item={"label": "HW"},
        scoreGiven=1,
        scoreMaximum=1,
    )
    items = grades_api(grades_hub, grader, "GET", f"grades/lineitems?course={course['id']}")
    results = grades_api(
        grades_hub, grader, "GET", f"grades/results?course={course['id']}&line_item=HW"
    )
    roster = grades_api(grades_hub, grader, "GET", f"roster?course={course['id']}")

    assert score.status_code == 409 and "column management" in score.json()["message"]
    for response in (items, results):
        assert response.status_code == 409 and "no line items URL" in response.json()["message"]
    assert roster.status_code == 200  # the roster service is still offered
    assert [m["username"] for m in roster.json()["members"]] == [student]


def test_roster_sync_sets_a_group_to_the_course_learners(
    grades_hub, emulator, services, client, user, grader
):
    course = new_course()
    services.roster[course["id"]] = [Member(f"{user}n{i}", "student") for i in range(3)]
    from tests.support.client import LaunchClient

    launched = [launch(emulator, LaunchClient(), f"{user}n{i}", course) for i in range(2)]
    teacher = launch(emulator, client, f"{user}prof", course, role="instructor")

    first = grades_api(
        grades_hub, grader, "POST", "roster/sync", json={"course": course["id"], "role": "Learner"}
    )

    assert first.status_code == 200, first.text
    group = first.json()["group"]
    assert group.endswith("-learners") and course["id"] in group
    assert first.json()["added"] == sorted(launched)
    assert first.json()["members_without_account"] == 1
    assert sorted(grades_hub.api("GET", f"/groups/{group}").json()["users"]) == sorted(launched)
    # one student leaves the course: the next sync removes them, and only them
    services.roster[course["id"]] = services.roster[course["id"]][1:]
    for launch_record in list(emulator.platform.launches.values()):
        if launch_record.user == f"{user}n0":
            launch_record.course = None
    second = grades_api(
        grades_hub, grader, "POST", "roster/sync", json={"course": course["id"], "role": "Learner"}
    )
    assert second.json()["removed"] == [launched[0]] and second.json()["added"] == []
    assert grades_hub.api("GET", f"/groups/{group}").json()["users"] == [launched[1]]
    assert teacher not in grades_hub.api("GET", f"/groups/{group}").json()["users"]
    bad = grades_api(
        grades_hub,
        grader,
        "POST",
        "roster/sync",
        json={"course": course["id"], "group": "Not A Name!"},
    )
    assert bad.status_code == 400 and "'group' must be a name" in bad.json()["message"]
