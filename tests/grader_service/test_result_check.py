"""The service re-checks every sandbox result against the stored source before it signs
(defence in depth against a forged sandbox result), signs the roll-number config and the
checker's metrics, and keeps the stamps a regrade supersedes."""

import copy
import csv
import io
import json
import math
import os
import sys
import tarfile

import pytest
from cheap_runner import CraftedRunner
from grader_testing import (
    CALLERS,
    StaticIdentityProvider,
    auth,
    fixture_tar,
    honest_result,
    nbgrader_meta,
    ps0_result,
)

from grader_service.cli import main
from grader_service.db import Status, Submission, session_factory
from grader_service.grading import roll_config
from grader_service.result_check import (
    SourceError,
    check_result,
    checked_result,
    expected_tests,
)
from grader_service.worker import get_workers
from tests.grader_service.prepared import prepared_app

BOTH_BACKENDS = True

PS0 = expected_tests(fixture_tar("source"), "ps0")
#: the same source released as a rubric-graded assignment: the capstone rubric's items
#: (automatic and manual) replace the notebook's test cells
CAPSTONE = expected_tests(fixture_tar("source"), "m08_capstone")


def _retotal(result):
    """Make the totals agree with the (forged) tests, so only the forgery itself is caught."""
    tests = [t for t in result["tests"] if isinstance(t, dict)]
    result["score"] = sum(t["points"] for t in tests)
    result["max_score"] = sum(t["max_points"] for t in tests)
    for name, entry in result["notebooks"].items():
        entry["score"] = sum(t["points"] for t in tests if t["notebook"] == name)
        entry["max_score"] = sum(t["max_points"] for t in tests if t["notebook"] == name)
    return result


def _test(result, grade_id):
    return next(t for t in result["tests"] if t["grade_id"] == grade_id)


def _set(grade_id, **values):
    return lambda r: _test(r, grade_id).update(values)


def _extra_test(result):
    result["tests"].append({"notebook": "ps0.ipynb", "grade_id": "bonus", "points": 10.0,
                            "max_points": 10.0, "passed": True, "message": "", "manual": False})


def _metrics(value):
    return lambda r: r.__setitem__("metrics", value)


# (id, forgery applied to an honest 1/3 result, make the totals agree afterwards, reason)
FORGERIES = [
    ("forged score", lambda r: r.update(score=3.0), False, "score 3 is not the sum"),
    ("inflated points, totals left alone", _set("test_add", points=2.0, passed=True), False,
     "score 1 is not the sum of the tests (3)"),
    ("points above max_points", _set("test_add", points=5.0), True, "outside 0..2"),
    ("negative points", _set("test_add", points=-1.0), True, "outside 0..2"),
    ("unknown grade_id", _extra_test, True, "unknown test 'ps0.ipynb:bonus'"),
    ("test of another notebook", _set("test_add", notebook="other.ipynb"), True,
     "unknown test 'other.ipynb:test_add'"),
    ("missing test", lambda r: r["tests"].pop(0), True, "test 'ps0.ipynb:test_add' is missing"),
    ("test listed twice", lambda r: r["tests"].append(dict(r["tests"][1])), True, "listed twice"),
    ("changed max_points", _set("test_add", max_points=20.0, points=20.0), True,
     "max_points of 'ps0.ipynb:test_add' is 20, the source says 2"),
    ("automatic test marked manual", _set("test_add", manual=True), True, "manual of"),
    ("NaN points", _set("test_add", points=math.nan), True, "not finite"),
    ("infinite points", _set("test_add", points=math.inf), True, "not finite"),
    ("NaN score", lambda r: r.update(score=math.nan), False, "score is not finite"),
    ("infinite max_score", lambda r: r.update(max_score=math.inf), False, "not finite"),
    ("points as a string", _set("test_add", points="2"), False, "not a number"),
    ("points as a boolean", _set("test_add_floats", points=True), False, "not a number"),
    ("max_score disagrees", lambda r: r.update(max_score=4.0), False,
     "max_score 4 is not the sum of the tests (3)"),
    ("notebook total disagrees", lambda r: r["notebooks"]["ps0.ipynb"].update(score=3.0), False,
     "score of ps0.ipynb 3 is not the sum"),
    ("unknown notebook listed", lambda r: r["notebooks"].update({"x.ipynb": {}}), False,
     "'notebooks' lists"),
    ("tests not a list", lambda r: r.update(tests={"test_add": 2.0}), False, "not a list"),
    ("test entry not an object", lambda r: r["tests"].append("test_add"), False,
     "not an object"),
    ("metrics not an object", _metrics([0.9]), False, "'metrics' is not an object"),
    ("metrics of a notebook not an object", _metrics({"ps0.ipynb": 0.9}), False,
     "metrics of 'ps0.ipynb' are not an object"),
    ("metric value a string", _metrics({"ps0.ipynb": {"accuracy": "0.99"}}), False,
     "not a number"),
    ("metric value NaN", _metrics({"ps0.ipynb": {"accuracy": math.nan}}), False, "not finite"),
    ("metric value a boolean", _metrics({"ps0.ipynb": {"accuracy": True}}), False,
     "not a number"),
    ("metric value nested", _metrics({"ps0.ipynb": {"accuracy": {"value": 1}}}), False,
     "not a number"),
    ("metric name too long", _metrics({"ps0.ipynb": {"a" * 101: 0.5}}), False,
     "printable string"),
    ("metric name empty", _metrics({"ps0.ipynb": {"": 0.5}}), False, "printable string"),
    ("metric name with a line break", _metrics({"ps0.ipynb": {"acc\nOK": 0.5}}), False,
     "printable string"),
    ("metrics of an unknown notebook", _metrics({"evil.ipynb": {"accuracy": 1.0}}), False,
     "unknown notebook"),
    ("too many metrics", _metrics({"ps0.ipynb": {f"m{i}": 1.0 for i in range(101)}}), False,
     "at most 100"),
]


def test_an_honest_result_passes_with_the_services_totals():
    result = ps0_result(test_add_floats=1.0)
    result["metrics"] = {"ps0.ipynb": {"heldout_accuracy": 0.875, "epochs": 20}}
    assert check_result(result, PS0) is None
    checked = checked_result(result, PS0)
    assert (checked.score, checked.max_score) == (1.0, 3.0)
    assert [(t["grade_id"], t["points"], t["max_points"]) for t in checked.tests] == [
        ("test_add", 0.0, 2.0), ("test_add_floats", 1.0, 1.0)]
    assert checked.notebooks == {"ps0.ipynb": {"score": 1.0, "max_score": 3.0, "problem": None}}
    assert checked.metrics == {"ps0.ipynb": {"epochs": 20.0, "heldout_accuracy": 0.875}}


def test_rounding_in_the_sandboxs_totals_is_tolerated():
    result = ps0_result(test_add_floats=1.0)
    result["score"] += 1e-12
    assert checked_result(result, PS0).score == 1.0


@pytest.mark.parametrize("forge, retotal, reason", [f[1:] for f in FORGERIES],
                         ids=[f[0] for f in FORGERIES])
def test_a_forged_result_is_rejected(forge, retotal, reason):
    result = ps0_result(test_add_floats=1.0)
    assert check_result(result, PS0) is None
    forge(result)
    if retotal:
        _retotal(result)
    problem = check_result(result, PS0)
    assert problem is not None and reason in problem, problem
    assert "\n" not in problem


def test_a_rubric_notebook_is_graded_on_the_rubrics_items():
    assert {t.grade_id for t in CAPSTONE.tests} >= {"rubric:framing", "rubric:model_spec"}
    assert {t.grade_id: t.manual for t in CAPSTONE.tests}["rubric:framing"] is True
    assert check_result(honest_result(CAPSTONE), CAPSTONE) is None


@pytest.mark.parametrize("result, expected, reason", [
    (ps0_result(test_add=2.0), CAPSTONE, "unknown test 'ps0.ipynb:test_add'"),
    (honest_result(CAPSTONE), PS0, "unknown test 'ps0.ipynb:rubric:"),
], ids=["rubric notebook with test-cell ids", "test-cell notebook with rubric ids"])
def test_rubric_and_test_cell_ids_are_not_interchangeable(result, expected, reason):
    assert reason in check_result(result, expected)


@pytest.mark.parametrize("forge, reason", [
    (_set("rubric:framing", points=4.0), "manual item 'ps0.ipynb:rubric:framing' has 4 points"),
    (_set("rubric:framing", manual=False), "manual of 'ps0.ipynb:rubric:framing' is False"),
    (_set("rubric:model_spec", max_points=200.0, points=200.0), "the source says 2"),
], ids=["manual item with points", "manual item reported automatic", "rubric max_points"])
def test_forged_rubric_items_are_rejected(forge, reason):
    result = honest_result(CAPSTONE)
    forge(result)
    _retotal(result)
    assert reason in check_result(result, CAPSTONE)


# -- what the source defines ----------------------------------------------------------


def _notebook(*cells):
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5}).encode()


def _cell(grade_id, cell_type="code", **meta):
    return {"cell_type": cell_type, "metadata": nbgrader_meta(grade_id, **meta), "source": "",
            "outputs": [], "execution_count": None}


def _tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_expected_tests_follow_the_nbgrader_cell_rules():
    source = _tar({
        "./a.ipynb": _notebook(
            _cell("t1", grade=True, points=2),
            _cell("answer", grade=True, solution=True, points=5),  # autograded answer
            _cell("written", cell_type="markdown", grade=True, points=3),  # manual markdown
            _cell("no_points", grade=True),
            _cell("", grade=True, points=9),  # no grade_id: not a test
            _cell("plain")),
        "sub/b.ipynb": _notebook(_cell("t2", grade=True, points="1.5")),
        ".ipynb_checkpoints/a-checkpoint.ipynb": _notebook(_cell("old", grade=True, points=1)),
        "data.csv": b"x\n1\n",
        "empty.ipynb": _notebook(),
    })
    expected = expected_tests(source, "ps0")
    assert expected.notebooks == ("a.ipynb", "empty.ipynb", "sub/b.ipynb")
    assert [(t.notebook, t.grade_id, t.max_points, t.manual) for t in expected.tests] == [
        ("a.ipynb", "t1", 2.0, False), ("a.ipynb", "no_points", 0.0, False),
        ("sub/b.ipynb", "t2", 1.5, False)]


@pytest.mark.parametrize("source", [
    b"not a tar archive",
    _tar({"ps0.ipynb": b"{not json"}),
    _tar({"ps0.ipynb": b'{"worksheets": []}'}),
    _tar({"ps0.ipynb": _notebook(_cell("t", grade=True, points=1),
                                 _cell("t", grade=True, points=2))}),
], ids=["not a tar", "not JSON", "not nbformat 4", "grade_id twice"])
def test_an_unreadable_source_is_an_error(source):
    with pytest.raises(SourceError):
        expected_tests(source, "ps0")


# -- in the service ------------------------------------------------------------------


def _graded(app, runner):
    get_workers(app).service.runner = runner
    return get_workers(app).run_once()


def _csv_rows(data_dir):
    path = os.path.join(data_dir, "gradebook.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


FORGED_IN_SERVICE = [f for f in FORGERIES if f[0] in (
    "forged score", "inflated points, totals left alone", "points above max_points",
    "unknown grade_id", "NaN points", "metric value a string")]


@pytest.mark.parametrize("forge, retotal, reason", [f[1:] for f in FORGED_IN_SERVICE],
                         ids=[f[0] for f in FORGED_IN_SERVICE])
def test_the_service_neither_signs_nor_exports_a_forged_result(app, client, actions, released,
                                                              data_dir, forge, retotal, reason):
    result = ps0_result(test_add_floats=1.0)
    forge(result)
    if retotal:
        _retotal(result)
    sid = actions.submit().json["submission_id"]
    row = _graded(app, CraftedRunner(result))
    assert row.id == sid and row.status == Status.UNGRADABLE
    assert row.stamp is None
    body = client.get(f"/api/submissions/{sid}", headers=auth("prof-token")).json
    assert body["status"] == "ungradable" and body["stamp"] is None
    message = body["result"]["message"]
    assert message.startswith("the sandbox result does not match the assignment's tests: ")
    assert reason in message
    assert body["result"]["outcome"] == "error"
    assert _csv_rows(data_dir) == []  # not exported
    metrics = client.get("/metrics").data.decode()
    assert 'grader_jobs_finished_total{outcome="error"} 1.0' in metrics
    assert 'grader_jobs_finished_total{outcome="success"} 0.0' in metrics


def test_the_service_looks_up_the_assignments_rubric(app, client, actions):
    """ps0's notebook released as the capstone: graded on the rubric, so a result with the
    notebook's test-cell ids is refused, and the rubric's items are accepted."""
    assert actions.release(assignment="m08_capstone").status_code == 201
    actions.submit(assignment="m08_capstone")
    row = _graded(app, CraftedRunner(ps0_result(test_add=2.0, test_add_floats=1.0)))
    assert row.status == Status.UNGRADABLE
    assert "unknown test 'ps0.ipynb:test_add'" in row.result["message"]
    actions.submit(assignment="m08_capstone")
    row = _graded(app, CraftedRunner(honest_result(CAPSTONE)))
    assert row.status == Status.GRADED
    manual = {t["grade_id"] for t in row.result["tests"] if t["manual"]}
    assert manual == {"rubric:framing", "rubric:experiments", "rubric:memo"}


def test_the_record_carries_roll_config_metrics_and_recomputed_totals(app, client, actions,
                                                                      released):
    from dlcourse.roll import derive_config

    result = ps0_result(test_add_floats=1.0)
    result["metrics"] = {"ps0.ipynb": {"heldout_accuracy": 0.93}}
    result["score"] += 1e-12  # the sandbox's own sum, rounded differently
    sid = actions.submit().json["submission_id"]
    assert _graded(app, CraftedRunner(result)).status == Status.GRADED
    record = client.get(f"/api/submissions/{sid}", headers=auth("alice-token")).json["stamp"]["record"]
    assert record["roll_config"] == derive_config("21CS001")
    assert record["metrics"] == {"ps0.ipynb": {"heldout_accuracy": 0.93}}
    assert (record["score"], record["max_score"]) == (1.0, 3.0)
    assert record["notebooks"] == {"ps0.ipynb": {"score": 1.0, "max_score": 3.0,
                                                 "problem": None}}


@pytest.mark.parametrize("roll", [None, "", "not a roll!", "12"])
def test_no_roll_config_without_a_valid_roll_number(app, client, actions, released, roll):
    assert roll_config(roll) is None
    sid = actions.submit().json["submission_id"]
    with session_factory(app)() as session:  # e.g. a row from before roll numbers were required
        session.get(Submission, sid).roll_number = roll
        session.commit()
    row = _graded(app, CraftedRunner(ps0_result()))
    assert row.status == Status.GRADED and row.result["roll_config"] is None
    assert row.result["metrics"] == {}


def test_the_service_does_not_start_without_the_course_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlcourse.grading.rubrics", None)  # import fails
    with pytest.raises(RuntimeError, match="needs the course package 'dlcourse'"):
        prepared_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "RUNNER": "local",
                      "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS),
                      "SIGNING_KEY_FILE": ""})


# -- regrades supersede earlier stamps -------------------------------------------------


def _regrade(app, client, sid, result):
    assert client.post(f"/api/submissions/{sid}/regrade",
                       headers=auth("prof-token")).status_code == 202
    return _graded(app, CraftedRunner(result))


def _verify(tmp_path, stamp, *args):
    path = tmp_path / "stamp.json"
    path.write_text(json.dumps(stamp))
    return main(["verify", str(path), *args])


def test_a_regrade_supersedes_the_earlier_stamp(app, client, actions, released, service_url,
                                                 tmp_path, capsys):
    sid = actions.submit().json["submission_id"]
    first = _graded(app, CraftedRunner(ps0_result(test_add_floats=1.0))).stamp
    second_row = _regrade(app, client, sid, ps0_result(test_add=2.0, test_add_floats=1.0))
    second = second_row.stamp
    assert second["record"]["score"] == 3.0

    history = client.get(f"/api/submissions/{sid}/stamps", headers=auth("prof-token")).json
    assert history["current"] == second and history["status"] == "graded"
    [earlier] = history["superseded"]
    assert earlier["stamp"] == first
    assert earlier["graded_at"] == first["record"]["graded_at"]
    assert earlier["superseded_at"] == second["record"]["graded_at"]
    assert earlier["superseded_by"] == {"status": "graded", "score": 3.0, "max_score": 3.0,
                                        "graded_at": second["record"]["graded_at"]}
    assert client.get(f"/api/submissions/{sid}/stamps",
                      headers=auth("alice-token")).status_code == 403

    online = ["--url", service_url, "--token", "prof-token"]
    capsys.readouterr()
    assert _verify(tmp_path, first, *online) == 3
    out = capsys.readouterr().out
    assert out.startswith("SUPERSEDED: valid signature")
    assert second["record"]["graded_at"] in out and "graded 3.0/3.0" in out
    assert _verify(tmp_path, second, *online) == 0
    assert "the current grade" in capsys.readouterr().out
    pem = tmp_path / "public.pem"
    pem.write_bytes(client.get("/api/public-key").data)
    assert _verify(tmp_path, first, "--public-key", str(pem), "--offline") == 0
    assert "signature only" in capsys.readouterr().out
    forged = copy.deepcopy(first)
    forged["record"]["score"] = 3.0
    assert _verify(tmp_path, forged, *online) == 1
    assert "INVALID" in capsys.readouterr().err

    # a regrade whose result is refused leaves no current stamp and supersedes the last
    third = _regrade(app, client, sid, ps0_result(test_add=7.0))
    assert third.status == Status.UNGRADABLE and third.stamp is None
    history = client.get(f"/api/submissions/{sid}/stamps", headers=auth("prof-token")).json
    assert history["current"] is None and history["status"] == "ungradable"
    assert [e["stamp"] for e in history["superseded"]] == [first, second]
    assert history["superseded"][1]["superseded_by"]["status"] == "ungradable"
    assert history["superseded"][1]["superseded_by"]["score"] is None
    assert _verify(tmp_path, second, *online) == 3
    assert "by a regrade: ungradable; now ungradable" in capsys.readouterr().out


def test_a_retried_infrastructure_failure_keeps_the_stamp(app, client, actions, released):
    """Only a final outcome supersedes: a run that goes back to the queue changes nothing."""
    sid = actions.submit().json["submission_id"]
    stamp = _graded(app, CraftedRunner(ps0_result())).stamp
    assert client.post(f"/api/submissions/{sid}/regrade",
                       headers=auth("prof-token")).status_code == 202

    class Down:
        name = "down"

        def run(self, bundle, cancelled=None):
            raise ConnectionError("docker is down")

    assert _graded(app, Down()).status == Status.QUEUED
    history = client.get(f"/api/submissions/{sid}/stamps", headers=auth("prof-token")).json
    assert history["current"] == stamp and history["superseded"] == []
