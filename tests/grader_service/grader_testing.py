"""Constants and helpers shared by the grading-service tests (fixtures live in conftest)."""

import io
import json
import os
import tarfile

from grader_service.auth import AuthError, Identity, IdentityProvider
from grader_service.result_check import expected_tests
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


def honest_result(expected, points=None, metrics=None):
    """A sandbox result that matches ``expected`` (a ``result_check.Expected``):
    ``points`` maps grade_id -> points (default: full marks on every automatic test);
    manual items always get 0."""
    tests = []
    for test in expected.tests:
        got = 0.0 if test.manual else (test.max_points if points is None
                                       else float(points.get(test.grade_id, 0.0)))
        tests.append({"notebook": test.notebook, "grade_id": test.grade_id, "points": got,
                      "max_points": test.max_points, "passed": got == test.max_points,
                      "message": "passed" if got == test.max_points else "failed",
                      "manual": test.manual})
    notebooks = {name: {"score": sum(t["points"] for t in tests if t["notebook"] == name),
                        "max_score": sum(t["max_points"] for t in tests
                                         if t["notebook"] == name),
                        "problem": None} for name in expected.notebooks}
    result = {"notebooks": notebooks, "tests": tests,
              "score": sum(t["points"] for t in tests),
              "max_score": sum(t["max_points"] for t in tests)}
    if metrics is not None:
        result["metrics"] = metrics
    return result


def ps0_result(**points):
    """An honest result for the ps0 fixture (tests ``test_add`` 2 points and
    ``test_add_floats`` 1 point): ``points`` per grade_id, the others 0."""
    return honest_result(expected_tests(fixture_tar("source"), "ps0"), points)


def expected_of_bundle(bundle):
    """The tests a sandbox input bundle must be graded on (its ``source/`` and job.json)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar, \
            tarfile.open(fileobj=out, mode="w") as source:
        job = json.load(tar.extractfile("job.json"))
        for member in tar:
            if member.isfile() and member.name.startswith("source/"):
                payload = tar.extractfile(member)
                member.name = member.name[len("source/"):]
                source.addfile(member, payload)
    return expected_tests(out.getvalue(), job["assignment"])

#: the fake LMS of the ``platform``/``lms_app`` fixtures: the tool's client id and the
#: roll numbers of the course's students
LMS_CLIENT_ID = "dlcourse-tool"
LMS_ROLLS = {"alice": "21CS001", "bob": "21CS002"}


def fill_pool(runner, size, timeout=60.0):
    """Start ``runner``'s pool of ``size`` sandboxes, wait until all wait; the runner."""
    import time

    runner.pool.size = size
    runner.warm_up()
    deadline = time.monotonic() + timeout
    while runner.pool.ready() < size:
        assert time.monotonic() < deadline, "the pool did not fill"
        time.sleep(0.1)
    return runner


class StaticIdentityProvider(IdentityProvider):
    """A fixed ``{token: Identity}`` table (the app config's ``IDENTITY_PROVIDER``)."""

    def __init__(self, identities):
        self.identities = dict(identities)

    def identify(self, token):
        try:
            return self.identities[token]
        except KeyError:
            raise AuthError("invalid token") from None
