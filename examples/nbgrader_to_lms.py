"""Send an nbgrader assignment's scores to the LMS gradebook, through JupyterHub.

Reads nbgrader's gradebook (``nbgrader.api.Gradebook``) and posts each student's total
score for one assignment with the hub's grade API (``ltiauthenticator.grades``). The
LMS column is found by its ``resourceId`` (``nbgrader:<assignment>``), or created once,
labelled with the assignment's name.

Run it where nbgrader runs (the course's grader account or service), with a JupyterHub
API token holding the ``custom:lti13:grades`` scope::

    export JUPYTERHUB_API_TOKEN=...      # set already inside a hub service or server
    python nbgrader_to_lms.py --gradebook sqlite:///gradebook.db --assignment ps1 \\
        --course <LMS context id>

nbgrader's student ids are usually the hub usernames; ``--username-format`` maps them
otherwise (e.g. ``"{student_id}@example.edu"`` for a hub using email usernames).
Students without a submission are skipped (listed); ``--dry-run`` prints what would be
posted. Exit status 1 when any post failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple

from nbgrader.api import Gradebook, MissingEntry

from ltiauthenticator.grades import GradesClient, GradesError


def assignment_scores(
    gradebook_url: str, assignment: str
) -> Iterator[Tuple[str, Optional[float], float]]:
    """(student id, score or None when not submitted, maximum) for every student."""
    with Gradebook(gradebook_url) as gradebook:
        maximum = gradebook.find_assignment(assignment).max_score
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                yield student.id, None, maximum
                continue
            yield student.id, submission.score, submission.max_score or maximum


def send(
    client: Any,
    gradebook_url: str,
    assignment: str,
    course: str,
    username_format: str = "{student_id}",
    dry_run: bool = False,
) -> Dict[str, List[str]]:
    """Post every submitted score; returns the student ids posted, skipped and failed."""
    outcome: Dict[str, List[str]] = {"posted": [], "skipped": [], "failed": []}
    line_item = {"label": assignment, "resourceId": f"nbgrader:{assignment}"}
    for student_id, score, maximum in assignment_scores(gradebook_url, assignment):
        if score is None:
            outcome["skipped"].append(student_id)
            continue
        username = username_format.format(student_id=student_id)
        if dry_run:
            print(f"would post {score}/{maximum} for {username}")
            outcome["posted"].append(student_id)
            continue
        try:
            client.post_score(
                username,
                score,
                maximum,
                course=course,
                line_item=line_item,
                comment=f"nbgrader: {assignment}",
            )
        except GradesError as e:
            print(f"{username}: {e}", file=sys.stderr)
            outcome["failed"].append(student_id)
        else:
            outcome["posted"].append(student_id)
    return outcome


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradebook", default="sqlite:///gradebook.db", help="nbgrader's db URL")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--course", required=True, help="the LMS context id of the course")
    parser.add_argument("--username-format", default="{student_id}")
    parser.add_argument("--hub-url", default="", help="default: from $JUPYTERHUB_API_URL")
    parser.add_argument("--token", default="", help="default: $JUPYTERHUB_API_TOKEN")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    client = None if args.dry_run else GradesClient(args.hub_url, args.token)
    outcome = send(
        client, args.gradebook, args.assignment, args.course, args.username_format, args.dry_run
    )
    print(
        f"posted {len(outcome['posted'])}, skipped (no submission) {len(outcome['skipped'])}"
        f"{': ' + ', '.join(outcome['skipped']) if outcome['skipped'] else ''}, "
        f"failed {len(outcome['failed'])}"
    )
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
