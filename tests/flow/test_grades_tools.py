"""The command line and the nbgrader recipe, run as processes against a real hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.hub import REPO

from .grades_support import gradebook, grades_config, launch, new_course


@pytest.fixture
def grades_hub(hub_with, emulator):
    return hub_with(**grades_config(emulator))


def start(hub, *args, token=None, cwd=None) -> subprocess.Popen:
    env = dict(
        os.environ,
        JUPYTERHUB_API_URL=f"{hub.url}/hub/api",
        JUPYTERHUB_API_TOKEN=hub.token if token is None else token,
        # nbgrader runs alembic (a console script of the venv) to create its database
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run(hub, *args, token=None, cwd=None) -> subprocess.CompletedProcess:
    return finish(start(hub, *args, token=token, cwd=cwd))


def test_command_line_posts_a_score_and_reads_the_roster(grades_hub, emulator, client, user):
    course = new_course()
    student = launch(emulator, client, user, course)
    grades = ["-m", "ltiauthenticator.grades"]

    # five independent commands, run side by side
    commands = [
        start(
            grades_hub,
            *grades,
            "score",
            student,
            "--link",
            "nb-1",
            "--score",
            "4",
            "--max",
            "8",
            "--comment",
            "from the CLI",
        ),
        start(grades_hub, *grades, "roster", "--course", course["id"], "--role", "Learner"),
        start(grades_hub, *grades, "score", student, "--link", "nb-1", "--score", "x"),
        start(grades_hub, *grades, "roster", "--course", course["id"], token=""),
        start(grades_hub, *grades, "score", "nobody", "--link", "x", "--score", "1", "--max", "1"),
    ]
    posted, roster, refused, no_token, wrong = [finish(command) for command in commands]

    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["score"]["scoreGiven"] == 4
    assert [(r["score"], r["comment"]) for r in gradebook(emulator, course)] == [
        (4, "from the CLI")
    ]
    assert roster.returncode == 0, roster.stderr
    assert [m["username"] for m in json.loads(roster.stdout)] == [student]
    assert refused.returncode == 2 and "invalid float" in refused.stderr  # argparse
    assert no_token.returncode == 1 and "JUPYTERHUB_API_TOKEN" in no_token.stderr
    assert wrong.returncode == 1 and "HTTP 404" in wrong.stderr and "nobody" in wrong.stderr


def test_nbgrader_recipe_posts_every_submitted_score(
    grades_hub, emulator, client, user, tmp_path, monkeypatch
):
    course = new_course()
    names = [f"{user}a", f"{user}b", f"{user}c"]
    for name in names:
        launch(emulator, client, name, course)
    database = f"sqlite:///{tmp_path}/gradebook.db"
    monkeypatch.setenv(
        "PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    )
    from nbgrader.api import Gradebook  # here: collecting the tests need not import nbgrader

    with Gradebook(database) as book:  # a real nbgrader gradebook, as nbgrader fills it
        book.add_assignment("ps1")
        book.add_notebook("problem1", "ps1")
        book.add_grade_cell("q1", "problem1", "ps1", max_score=6, cell_type="code")
        book.add_grade_cell("q2", "problem1", "ps1", max_score=4, cell_type="markdown")
        for name, (q1, q2) in zip(names[:2], [(6, 3.5), (2, 0)]):
            book.add_student(name)
            book.add_submission("ps1", name)
            book.find_grade("q1", "problem1", "ps1", name).manual_score = q1
            book.find_grade("q2", "problem1", "ps1", name).manual_score = q2
        book.add_student(names[2])  # no submission
        book.db.commit()

    result = run(
        grades_hub,
        str(REPO / "examples" / "nbgrader_to_lms.py"),
        "--gradebook",
        database,
        "--assignment",
        "ps1",
        "--course",
        course["id"],
        "--username-format",
        "{student_id}@example.edu",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "posted 2, skipped (no submission) 1" in result.stdout and names[2] in result.stdout
    rows = {r["user_id"]: (r["score"], r["maximum"]) for r in gradebook(emulator, course)}
    assert rows == {f"sub-{names[0]}": (9.5, 10), f"sub-{names[1]}": (2, 10)}
    items = emulator.platform.services.line_items[course["id"]]
    assert [(i["label"], i["resourceId"]) for i in items] == [("ps1", "nbgrader:ps1")]
