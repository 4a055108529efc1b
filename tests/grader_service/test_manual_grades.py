"""Manual grades: the instructor's points for manual items reach the stamp, the gradebook
CSV and the LMS (PendingManual -> FullyGraded), and the formgrader's gradebook reaches
the service through ``dl-grader push-manual``."""

import copy
import csv
import io
import json
import os
import sys

import pytest
from cheap_runner import CraftedRunner
from grader_testing import auth, fixture_tar, honest_result

from grader_service.cli import main
from grader_service.result_check import expected_tests
from grader_service.worker import get_workers

BOTH_BACKENDS = True
#: ps0's notebook released as the capstone: three manual rubric items of 4 points
CAPSTONE = expected_tests(fixture_tar("source"), "m08_capstone")
AUTO_POINTS = {"rubric:model_spec": 2.0, "rubric:pipeline": 3.0, "rubric:artifact": 2.0}
MANUAL = ("ps0.ipynb:rubric:framing", "ps0.ipynb:rubric:experiments", "ps0.ipynb:rubric:memo")



@pytest.fixture
def app(lms_app):
    """The service exporting to the gradebook CSV and the fake LMS (conftest)."""
    return lms_app

@pytest.fixture
def served(app, service_url, platform):
    """The service on loopback, its tool key registered at the LMS."""
    platform.tool_jwks_url = service_url + "/api/lti/jwks"
    return service_url


def _grade(app, actions, token="alice-token"):
    """A graded capstone submission: 7 automatic points of 10, 3 manual items pending."""
    sid = actions.submit(token=token, assignment="m08_capstone").json["submission_id"]
    get_workers(app).service.runner = CraftedRunner(honest_result(CAPSTONE, AUTO_POINTS))
    row = get_workers(app).run_once()
    assert row.id == sid and row.status == "graded", row.result
    return sid


@pytest.fixture
def capstone(app, actions, served):
    assert actions.release(assignment="m08_capstone").status_code == 201
    return _grade(app, actions)


def _put(client, sid, test_id, token="prof-token", **body):
    return client.put(f"/api/submissions/{sid}/manual/{test_id}", headers=auth(token),
                      json=body)


def _stamp(client, sid):
    return client.get(f"/api/submissions/{sid}", headers=auth("prof-token")).json["stamp"]


def _gradebook(client):
    text = client.get("/api/courses/ml101/gradebook.csv", headers=auth("prof-token")).data
    return list(csv.DictReader(io.StringIO(text.decode())))


def _csv_file(app):
    with open(os.path.join(app.config["DATA_DIR"], "gradebook.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("test_id, body, status, reason", [
    (MANUAL[0], {"points": -1}, 400, "between 0 and 4"),
    (MANUAL[0], {"points": 4.5}, 400, "between 0 and 4"),
    (MANUAL[0], {"points": "3"}, 400, "must be a number"),
    (MANUAL[0], {"points": True}, 400, "must be a number"),
    (MANUAL[0], {"comment": "no points"}, 400, "expected a JSON object"),
    (MANUAL[0], {"points": 1, "comment": 7}, 400, "comment must be a string"),
    (MANUAL[0], {"points": 1, "comment": "x" * 10_001}, 400, "at most 10000"),
    ("ps0.ipynb:rubric:model_spec", {"points": 2}, 400, "graded automatically"),
    ("ps0.ipynb:rubric:nonsense", {"points": 1}, 404, "has no test"),
    ("other.ipynb:rubric:framing", {"points": 1}, 404, "has no test"),
], ids=["negative", "above max", "string", "boolean", "no points", "comment not a string",
        "comment too long", "automatic item", "unknown item", "unknown notebook"])
def test_a_manual_grade_is_validated(client, capstone, test_id, body, status, reason):
    reply = _put(client, capstone, test_id, **body)
    assert reply.status_code == status and reason in reply.json["error"]
    listed = client.get(f"/api/submissions/{capstone}/manual", headers=auth("prof-token")).json
    assert [item["grade"] for item in listed["items"]] == [None, None, None]


@pytest.mark.parametrize("raw", [b'{"points": NaN}', b'{"points": Infinity}', b'{"points": 1e999}',
                                 b"not json"])
def test_points_must_be_finite_json(client, capstone, raw):
    reply = client.put(f"/api/submissions/{capstone}/manual/{MANUAL[0]}", data=raw,
                       headers={**auth("prof-token"), "Content-Type": "application/json"})
    assert reply.status_code == 400


@pytest.mark.parametrize("token, status", [("alice-token", 403), ("bob-token", 404),
                                           ("olga-token", 404), ("eve-token", 404)])
def test_only_the_courses_instructors_grade(client, capstone, token, status):
    assert _put(client, capstone, MANUAL[0], token=token, points=1).status_code == status
    assert client.get(f"/api/submissions/{capstone}/manual",
                      headers=auth(token)).status_code == status


def test_an_ungraded_submission_takes_no_manual_grade(client, actions, capstone):
    queued = actions.submit(assignment="m08_capstone").json["submission_id"]
    reply = _put(client, queued, MANUAL[0], points=1)
    assert reply.status_code == 409 and "only a graded one" in reply.json["error"]


def test_manual_grades_make_the_final_grade_everywhere(app, client, capstone, platform,
                                                       served, tmp_path, capsys):
    service = get_workers(app).service
    autograded = _stamp(client, capstone)
    assert autograded["record"]["score"] == 7.0
    score = platform.scores_for("alice")["m08_capstone"]
    assert (score["scoreGiven"], score["gradingProgress"]) == (7.0, "PendingManual")

    for test_id, points in zip(MANUAL[:2], (3.0, 4.0), strict=True):
        reply = _put(client, capstone, test_id, points=points, comment="good")
        assert reply.status_code == 200 and reply.json["changed"] and not reply.json["re_signed"]
        assert reply.json["pending_manual"] and reply.json["item"]["grade"]["graded_by"] == "prof"
    assert _stamp(client, capstone) == autograded  # nothing final until every item is graded
    assert service.export_pending() == 0

    reply = _put(client, capstone, "rubric:memo", points=2.5, comment="memo: thin on risks")
    assert reply.status_code == 200 and reply.json["re_signed"]
    assert not reply.json["pending_manual"] and reply.json["score"] == 16.5
    final = _stamp(client, capstone)
    record = final["record"]
    assert record["score"] == 16.5 and record["max_score"] == 20.0
    assert record["autograded_at"] == autograded["record"]["graded_at"]
    assert record["graded_at"] > autograded["record"]["graded_at"]
    memo = next(t for t in record["tests"] if t["grade_id"] == "rubric:memo")
    assert (memo["points"], memo["comment"], memo["graded_by"]) == (2.5, "memo: thin on risks",
                                                                     "prof")
    assert record["notebooks"]["ps0.ipynb"]["score"] == 16.5

    assert service.export_pending() == 1
    score = platform.scores_for("alice")["m08_capstone"]
    assert (score["scoreGiven"], score["gradingProgress"]) == (16.5, "FullyGraded")
    assert "manual items graded by prof" in score["comment"]
    [row] = _gradebook(client)
    assert float(row["score"]) == record["score"] == score["scoreGiven"]
    assert row["graded_at"] == record["graded_at"]
    newest = _csv_file(app)[-1]  # the exporter's file: one row per signed record
    assert (newest["graded_at"], float(newest["score"])) == (record["graded_at"], 16.5)

    # an override re-signs again; the same grade again changes nothing
    reply = _put(client, capstone, "rubric:memo", points=4, comment="memo: fine on reread")
    assert reply.json["re_signed"] and reply.json["score"] == 18.0
    service.export_pending()
    assert platform.scores_for("alice")["m08_capstone"]["scoreGiven"] == 18.0
    posted = len(platform.received_scores)
    reply = _put(client, capstone, "rubric:memo", points=4, comment="memo: fine on reread")
    assert not reply.json["changed"] and not reply.json["re_signed"]
    assert service.export_pending() == 0 and len(platform.received_scores) == posted
    current = _stamp(client, capstone)
    [row] = _gradebook(client)
    assert float(row["score"]) == current["record"]["score"] == 18.0
    assert float(_csv_file(app)[-1]["score"]) == 18.0

    history = client.get(f"/api/submissions/{capstone}/stamps", headers=auth("prof-token")).json
    assert [e["stamp"] for e in history["superseded"]] == [autograded, final]
    assert history["superseded"][1]["superseded_by"]["score"] == 18.0
    online = ["--url", served, "--token", "prof-token"]
    for stamp, status in ((autograded, 3), (final, 3), (current, 0)):
        path = tmp_path / "stamp.json"
        path.write_text(json.dumps(stamp))
        capsys.readouterr()
        assert main(["verify", str(path), *online]) == status
        if status == 3:
            assert "by manual grades: graded" in capsys.readouterr().out
    forged = copy.deepcopy(current)
    forged["record"]["tests"][0]["points"] = 4.0
    path.write_text(json.dumps(forged))
    assert main(["verify", str(path), *online]) == 1


def test_a_regrade_keeps_the_manual_grades(app, client, capstone):
    for test_id in MANUAL:
        _put(client, capstone, test_id, points=1, comment="")
    signed = _stamp(client, capstone)["record"]
    assert client.post(f"/api/submissions/{capstone}/regrade",
                       headers=auth("prof-token")).status_code == 202
    get_workers(app).service.runner = CraftedRunner(honest_result(CAPSTONE, {
        **AUTO_POINTS, "rubric:artifact": 0.0}))
    row = get_workers(app).run_once()
    assert row.result["score"] == 5.0 + 3.0 and row.result["graded_at"] > signed["graded_at"]
    assert all(t["graded_by"] == "prof" for t in row.result["tests"] if t["manual"])
    assert row.stamp["record"] == row.result


# -- from the formgrader ------------------------------------------------------------


def _formgrader_gradebook(monkeypatch, path, grades):
    """A gradebook.db as nbgrader's formgrader writes it: the capstone notebook ``ps0``
    with its three manually graded answers, and ``grades`` per student
    (``{student: {cell: (points, comment)}}``)."""
    from nbgrader.api import Gradebook

    venv_bin = os.path.dirname(sys.executable)  # a new gradebook runs `alembic`
    monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ["PATH"])
    url = f"sqlite:///{path}"
    with Gradebook(url) as gb:
        gb.add_assignment("m08_capstone")
        gb.update_or_create_notebook("ps0", "m08_capstone")
        for cell in ("framing", "experiments", "memo"):
            gb.update_or_create_grade_cell(cell, "ps0", "m08_capstone", max_score=4,
                                           cell_type="markdown")
            gb.update_or_create_solution_cell(cell, "ps0", "m08_capstone")
        gb.update_or_create_grade_cell("model_spec", "ps0", "m08_capstone", max_score=2,
                                       cell_type="code")
        for student, cells in grades.items():
            gb.add_student(student)
            gb.add_submission("m08_capstone", student)
            for cell, (points, comment) in cells.items():
                gb.find_grade(cell, "ps0", "m08_capstone", student).manual_score = points
                if comment is not None:
                    gb.find_comment(cell, "ps0", "m08_capstone", student).manual_comment = comment
            gb.db.commit()
    return url


def test_push_manual_sends_the_formgraders_grades(app, client, actions, capstone, served,
                                                  platform, tmp_path, capsys, monkeypatch):
    bob = _grade(app, actions, token="bob-token")
    path = tmp_path / "gradebook.db"
    _formgrader_gradebook(monkeypatch, path, {
        "alice": {"framing": (3, "clear framing"), "experiments": (4, None), "memo": (2, "short"),
                  "model_spec": (0, None)},  # an override of an automatic item: not pushed
        "bob": {"framing": (1, None)},
        "carol": {"memo": (4, None)},  # no submission in the service
    })
    cli = ["push-manual", "m08_capstone", "--course", "ml101", "--gradebook", str(path),
           "--url", served, "--token", "prof-token"]
    capsys.readouterr()
    assert main(cli) == 0
    out, err = capsys.readouterr()
    assert "alice ps0.ipynb:rubric:framing: - -> 3/4  (comment)" in out
    assert "alice: final grade 16/20 signed" in out
    assert "bob ps0.ipynb:rubric:framing: - -> 1/4" in out
    assert f"bob: still pending manual grades (submission {bob})" in out
    assert "carol: no graded submission" in out
    assert "4 changed, 0 unchanged, 2 not graded in the formgrader, 1 final" in err

    record = _stamp(client, capstone)["record"]
    framing = next(t for t in record["tests"] if t["grade_id"] == "rubric:framing")
    assert (framing["points"], framing["comment"], framing["graded_by"]) == (3.0, "clear framing",
                                                                             "prof")
    model_spec = next(t for t in record["tests"] if t["grade_id"] == "rubric:model_spec")
    assert model_spec["points"] == 2.0  # the sandbox's, not the formgrader's override
    get_workers(app).service.export_pending()
    assert platform.scores_for("alice")["m08_capstone"]["gradingProgress"] == "FullyGraded"
    assert platform.scores_for("bob")["m08_capstone"]["gradingProgress"] == "PendingManual"

    assert main(cli) == 0  # again: nothing changes, nothing is re-signed
    out, err = capsys.readouterr()
    assert "->" not in out and "0 changed, 4 unchanged" in err
    assert _stamp(client, capstone)["record"] == record
