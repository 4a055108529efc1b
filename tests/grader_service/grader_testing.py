"""Constants and helpers shared by the grading-service tests (fixtures live in conftest)."""

import os

from grader_service.auth import Identity
from grader_service.tarsafe import pack_directory

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
COURSE = "ml101"

#: token -> identity of the static test double (JupyterHub is replaced in unit tests)
CALLERS = {
    "prof-token": Identity("prof", frozenset({"formgrade-ml101"})),
    "alice-token": Identity("alice", frozenset({"nbgrader-ml101"}), roll_number="21CS001"),
    "bob-token": Identity("bob", frozenset({"nbgrader-ml101"}), roll_number="21CS002"),
    "eve-token": Identity("eve", frozenset({"nbgrader-ml999"}), roll_number="21CS666"),
    "olga-token": Identity("olga", frozenset({"formgrade-ml999"})),  # another course's instructor
    "nora-token": Identity("nora", frozenset({"nbgrader-ml101"})),  # no roll number claim
}


def auth(token):
    return {"Authorization": f"token {token}"}


def fixture_tar(variant, assignment="ps0"):
    return pack_directory(os.path.join(FIXTURES, assignment, variant))


def nbgrader_meta(grade_id, grade=False, solution=False, points=None):
    meta = {"grade": grade, "solution": solution, "grade_id": grade_id, "locked": grade,
            "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def stored_submissions(app, columns="id, username, roll_number, status"):
    """Rows of the submissions table read over a NEW connection (what another process sees)."""
    from sqlalchemy import text

    with app.extensions["grader_engine"].connect() as conn:
        return [tuple(row) for row in conn.execute(
            text(f"SELECT {columns} FROM submissions ORDER BY submitted_at"))]
