"""Every endpoint x {student, other student, instructor, other course's instructor,
anonymous, forged/expired token}: the status is the one in ``authz_matrix``, and nobody
outside a submission's owner and its course's instructors is told its id."""

import io

import pytest
from authz_matrix import CALLERS, ROWS, cases
from cheap_runner import CraftedRunner
from grader_testing import COURSE, auth, fixture_tar, honest_result

from grader_service import queue
from grader_service.db import Status, session_factory
from grader_service.result_check import expected_tests
from grader_service.worker import get_workers

BOTH_BACKENDS = True


def _body(kind, tar_of):
    if kind == "release":
        return {"release": (io.BytesIO(fixture_tar("release")), "r.tar.gz"),
                "source": (io.BytesIO(fixture_tar("source")), "s.tar.gz")}
    if kind == "submission":
        return {"submission": (io.BytesIO(fixture_tar("student_right")), "s.tar.gz")}
    if kind == "feedback":
        return {"feedback": (io.BytesIO(tar_of({"ps0.html": b"<p>ok</p>"})), "f.tar.gz")}
    if kind == "manual":
        return {"points": 1, "comment": "ok"}
    return None


@pytest.fixture
def world(app, client, actions, released, tar_of):
    """ps0 released; alice has a finished submission with feedback and a queued one, and a
    graded one of the capstone (ps0's notebook on the capstone rubric: manual items)."""
    done = actions.submit().json["submission_id"]
    with session_factory(app)() as session:  # the oldest job is ``done``
        assert queue.claim_next(session, "w", 60).id == done
        assert queue.finish(session, done, "w", status=Status.UNGRADABLE)
    client.put(f"/api/submissions/{done}/feedback", headers=auth("prof-token"),
               data=_body("feedback", tar_of))
    actions.release(assignment="m08_capstone")  # ps0's notebook graded on a rubric
    graded = actions.submit(assignment="m08_capstone").json["submission_id"]
    capstone = expected_tests(fixture_tar("source"), "m08_capstone")
    get_workers(app).service.runner = CraftedRunner(honest_result(capstone))
    assert get_workers(app).run_once().status == Status.GRADED
    sid = actions.submit().json["submission_id"]
    return {"course": COURSE, "assignment": "ps0", "sid": sid, "done": done, "graded": graded,
            "item": "ps0.ipynb:rubric:memo", "roll": "21CS001"}  # alice's, bound


@pytest.mark.parametrize("row, caller", [c[:2] for c in cases()], ids=[c[2] for c in cases()])
def test_authorization_matrix(client, world, tar_of, row, caller):
    token = CALLERS[caller]
    headers = auth(token) if token else {}
    body = _body(row.body, tar_of)
    response = client.open(row.path.format(**world), method=row.method, headers=headers,
                           **({"json": body} if row.body == "manual" else {"data": body}))
    expected = row.expected[caller]
    assert response.status_code == expected, response.get_data()[:300]
    if expected >= 400:
        assert response.json["error"]
    outsider = caller in ("other_student", "other_instructor", "anonymous", "forged_or_expired")
    if outsider and expected < 400:  # (an error may echo the id the caller sent)
        body = response.get_data()
        assert not any(world[key].encode() in body for key in ("sid", "done", "graded"))


def test_matrix_covers_every_route(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(row.method, _to_flask(row.path)) for row in ROWS}
    assert covered == routes


def _to_flask(path):
    for name, param in (("{course}", "<course>"), ("{assignment}", "<assignment>"),
                        ("{sid}", "<submission_id>"), ("{done}", "<submission_id>"),
                        ("{graded}", "<submission_id>"), ("{item}", "<path:test_id>"),
                        ("{roll}", "<roll_number>")):
        path = path.replace(name, param)
    return path
