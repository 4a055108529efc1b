"""``dl-grader pull-results`` and the formgrader's Collect with real nbgrader: the grading
service's results become the instructor's ``autograded/`` notebooks and gradebook
without running any student code there; feedback, the gradebook CSV, the stamp and
the LMS then agree with the formgrader's totals (after a manual grade and push-manual)."""

import csv
import io
import os
import re
from pathlib import Path

import nbformat
import pytest
from cheap_runner import CraftedRunner
from grader_testing import COURSE, LMS_ROLLS, auth, honest_result, nbgrader_meta, ps0_result
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from test_instructor_nbgrader import formgrader_api, image_config, release_ps0

from grader_service.cli import main
from grader_service.pull_results import GUIDE_TAG, SUMMARY_KEY
from grader_service.result_check import expected_tests
from grader_service.tarsafe import pack_directory
from grader_service.worker import get_workers


@pytest.fixture
def app(lms_app):
    """The service exporting to the gradebook CSV and the fake LMS (conftest)."""
    return lms_app

@pytest.fixture
def instructor(monkeypatch, tmp_path, service_url, platform):
    """(api, course root) of instructor ``prof``: the image's nbgrader config, talking to
    the test service (whose LTI key the fake LMS trusts)."""
    platform.tool_jwks_url = service_url + "/api/lti/jwks"
    monkeypatch.setenv("GRADER_SERVICE_URL", service_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")
    api = formgrader_api(image_config(monkeypatch, tmp_path / "prof", "prof", "instructor"))
    return api, Path(api.coursedir.root)


def submit_with_marker(exchange, tmp_path, monkeypatch, user, assignment, marker, edit=None):
    """``user`` fetches ``assignment``, adds a cell that writes ``marker`` when run (and
    ``edit(nb)``), submits; the submit reply."""
    home = tmp_path / user
    home.mkdir(exist_ok=True)
    exchange("FetchAssignment", f"{user}-token", home, assignment).start()
    for path in (home / assignment).glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        nb.cells.insert(0, new_code_cell(f"open({str(marker)!r}, 'a').write({user!r})"))
        if edit is not None:
            edit(nb)
        nbformat.write(nb, str(path))
    monkeypatch.setenv("ROLL_NUMBER", LMS_ROLLS[user])
    submit = exchange("Submit", f"{user}-token", home, assignment)
    submit.start()
    return submit.reply


def grade(app, results):
    """The service grades the queued submissions, oldest first: ``results`` per user."""
    workers = get_workers(app)
    graded = {}
    for user in _queued(app):
        if user not in results:
            continue
        workers.service.runner = CraftedRunner(results[user])
        row = workers.run_once()
        assert row.status == "graded" and row.username == user, row.result
        graded[user] = row.result
    return graded


def _queued(app):
    from sqlalchemy import text

    with app.extensions["grader_engine"].connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT username FROM submissions WHERE status = 'queued' ORDER BY submitted_at"))]


def pull(root, service_url, assignment, capsys):
    capsys.readouterr()
    status = main(["pull-results", assignment, "--course", COURSE, "--course-dir", str(root),
                   "--url", service_url, "--token", "prof-token"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out, err


def snapshot(root):
    """Every file under autograded/ with its bytes and mtime."""
    found = {}
    for path in sorted((root / "autograded").rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def gradebook_scores(api, assignment, student):
    """``({cell: (auto_score, manual_score, needs_manual_grade)}, total, max)``."""
    with Gradebook(api.coursedir.db_url, COURSE) as gb:
        submission = gb.find_submission(assignment, student)
        cells = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                 for nb in submission.notebooks for g in nb.grades}
        return cells, submission.score, submission.max_score


def feedback_score(root, student, assignment, notebook):
    html = (root / "feedback" / student / assignment / f"{notebook}.html").read_text()
    match = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", html)
    return float(match.group(1)), float(match.group(2)), html


def test_collect_and_pull_fill_the_formgrader_without_running_student_code(
        app, instructor, exchange, service_url, tmp_path, monkeypatch, capsys):
    api, root = instructor
    marker = tmp_path / "student-code-ran"
    release_ps0(api, root)
    for user in ("alice", "bob"):
        submit_with_marker(exchange, tmp_path, monkeypatch, user, "ps0", marker)
    bob_result = ps0_result(test_add=2.0)
    bob_result["tests"][1]["message"] = "a hidden test failed"
    graded = grade(app, {"alice": ps0_result(test_add=2.0, test_add_floats=1.0),
                         "bob": bob_result})
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")

    # The formgrader's Collect: the submissions, then the service's results
    collected = api.collect("ps0")
    assert collected["success"], collected
    for user, record in graded.items():
        cells, score, max_score = gradebook_scores(api, "ps0", user)
        service = {t["grade_id"]: t["points"] for t in record["tests"]}
        assert {name: auto for name, (auto, _m, _n) in cells.items()} == service
        assert not any(needs for _a, _m, needs in cells.values())
        assert (score, max_score) == (record["score"], record["max_score"]) != (None, None)
        folder = root / "autograded" / user / "ps0"
        nb = nbformat.read(str(folder / "ps0.ipynb"), as_version=4)
        assert nb.cells[0].metadata[SUMMARY_KEY] and "Grading service" in nb.cells[0].source
        assert str(marker) in nb.cells[1].source  # the student's own notebook
        outputs = {c.metadata["nbgrader"]["grade_id"]: c.outputs[0]["text"]
                   for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
        assert "passed, 2/2 point(s)" in outputs["test_add"]
        assert (folder / "submission_id.txt").read_text() == \
            (root / "submitted" / user / "ps0" / "submission_id.txt").read_text()
    assert "failed, 0/1 point(s): a hidden test failed" in (
        root / "autograded" / "bob" / "ps0" / "ps0.ipynb").read_text()
    assert (gradebook_scores(api, "ps0", "bob")[1]) == 2.0

    # dl-grader pull-results afterwards: nothing new, nothing written
    before = snapshot(root)
    out, err = pull(root, service_url, "ps0", capsys)
    assert out == "" and "2 graded submission(s) of ml101/ps0: 0 change(s)" in err
    assert snapshot(root) == before

    # Generate Feedback: the service's scores, for both
    feedback = api.generate_feedback("ps0")
    assert feedback["success"], feedback
    for user, record in graded.items():
        score, max_score, html = feedback_score(root, user, "ps0", "ps0")
        assert (score, max_score) == (record["score"], record["max_score"])
        assert "Grading service" in html
    assert not marker.exists()  # no student code ran in the instructor's process


def test_pull_results_on_a_fresh_course_directory_reports_every_change(
        app, instructor, exchange, service_url, tmp_path, monkeypatch, capsys):
    api, root = instructor
    marker = tmp_path / "student-code-ran"
    release_ps0(api, root)
    submit_with_marker(exchange, tmp_path, monkeypatch, "alice", "ps0", marker)
    submit_with_marker(exchange, tmp_path, monkeypatch, "bob", "ps0", marker)
    grade(app, {"alice": ps0_result(test_add=2.0)})  # bob's is still queued

    out, err = pull(root, service_url, "ps0", capsys)
    assert "alice ps0: wrote autograded/alice/ps0 (submission" in out
    assert "alice ps0: new submission in the gradebook" in out
    assert "alice ps0: ps0/test_add auto_score = 2.0" in out
    assert "not graded yet in the service (pull again later): bob" in out
    assert "1 graded submission(s) of ml101/ps0: 2 change(s)" in err
    out, err = pull(root, service_url, "ps0", capsys)
    assert "wrote" not in out and "0 change(s)" in err
    assert not marker.exists()


def capstone_source(root):
    """``m08_capstone`` whose grade cells are named like the capstone rubric's items
    (the one-to-one mapping): three manual answers and three autograded cells."""
    cells = [new_markdown_cell("# Capstone")]
    for name in ("framing", "experiments", "memo"):
        cells.append(new_markdown_cell(f"Your {name} here.", metadata=nbgrader_meta(
            name, grade=True, solution=True, points=4)))
    cells.append(new_code_cell("def capstone_spec():\n    ### BEGIN SOLUTION\n    return {}\n"
                               "    ### END SOLUTION\n",
                               metadata=nbgrader_meta("spec_answer", solution=True)))
    for name, points in (("model_spec", 2), ("pipeline", 4), ("artifact", 2)):
        cells.append(new_code_cell("# checked by the grading service", metadata=nbgrader_meta(
            name, grade=True, points=points)))
    source = root / "source" / "m08_capstone"
    source.mkdir(parents=True)
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}),
        str(source / "capstone.ipynb"))
    return expected_tests(pack_directory(str(source)), "m08_capstone")


def test_manual_grade_in_the_formgrader_agrees_everywhere(
        app, client, instructor, exchange, service_url, platform, tmp_path, monkeypatch,
        capsys):
    api, root = instructor
    marker = tmp_path / "student-code-ran"
    expected = capstone_source(root)
    assert api.generate_assignment("m08_capstone")["success"]
    assert api.release_assignment("m08_capstone")["success"]
    for user in ("alice", "bob"):
        submit_with_marker(exchange, tmp_path, monkeypatch, user, "m08_capstone", marker)
    auto = {"rubric:model_spec": 2.0, "rubric:pipeline": 3.0, "rubric:artifact": 2.0}
    grade(app, {"alice": honest_result(expected, auto),
                "bob": honest_result(expected, {**auto, "rubric:pipeline": 1.0})})
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")
    assert api.collect("m08_capstone")["success"]

    cells, score, max_score = gradebook_scores(api, "m08_capstone", "alice")
    assert cells["model_spec"] == (2.0, None, False) and cells["pipeline"] == (3.0, None, False)
    assert cells["memo"] == (None, None, True)  # on the formgrader's Manual Grading page
    assert (score, max_score) == (7.0, 20.0)
    get_workers(app).service.export_pending()
    lms = platform.scores_for("alice")["m08_capstone"]
    assert (lms["scoreGiven"], lms["gradingProgress"]) == (7.0, "PendingManual")

    # the instructor grades alice's manual answers in the formgrader, then pushes them
    with Gradebook(api.coursedir.db_url, COURSE) as gb:
        for name, points in (("framing", 3.0), ("experiments", 4.0), ("memo", 2.5)):
            gb.find_grade(name, "capstone", "m08_capstone", "alice").manual_score = points
        gb.find_comment("memo", "capstone", "m08_capstone", "alice").manual_comment = "thin"
        gb.db.commit()
    capsys.readouterr()
    assert main(["push-manual", "m08_capstone", "--course", COURSE, "--gradebook",
                 str(root / "gradebook.db"), "--url", service_url, "--token",
                 "prof-token"]) == 0
    assert "alice: final grade 16.5/20 signed" in capsys.readouterr().out
    get_workers(app).service.export_pending()

    _cells, formgrader_total, _max = gradebook_scores(api, "m08_capstone", "alice")
    stamp = client.get(f"/api/courses/{COURSE}/submissions?assignment=m08_capstone",
                       headers=auth("prof-token")).json
    sid = next(r["submission_id"] for r in stamp if r["username"] == "alice")
    record = client.get(f"/api/submissions/{sid}", headers=auth("prof-token")).json["stamp"]["record"]
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/api/courses/{COURSE}/gradebook.csv", headers=auth("prof-token")).data.decode())))
    csv_score = float(next(r["score"] for r in rows if r["username"] == "alice"))
    lms = platform.scores_for("alice")["m08_capstone"]
    assert formgrader_total == record["score"] == csv_score == lms["scoreGiven"] == 16.5
    assert lms["gradingProgress"] == "FullyGraded"

    # the service's record changed (manual items now signed): one pull updates the
    # summary, the next changes nothing
    out, _err = pull(root, service_url, "m08_capstone", capsys)
    assert "alice m08_capstone: wrote" in out and "bob" not in out
    assert "manual, graded by prof" in (
        root / "autograded" / "alice" / "m08_capstone" / "capstone.ipynb").read_text()
    _out, err = pull(root, service_url, "m08_capstone", capsys)
    assert "0 change(s)" in err

    assert api.generate_feedback("m08_capstone")["success"]
    assert feedback_score(root, "alice", "m08_capstone", "capstone")[:2] == (16.5, 20.0)
    assert feedback_score(root, "bob", "m08_capstone", "capstone")[:2] == (5.0, 20.0)
    assert not marker.exists()
    assert os.path.exists(root / "gradebook.db")


def service_score(client, username, assignment):
    """(score, status of the latest record) the service holds for ``username``."""
    rows = client.get(f"/api/courses/{COURSE}/submissions?assignment={assignment}",
                      headers=auth("prof-token")).json
    sid = max((r for r in rows if r["username"] == username),
              key=lambda r: r["timestamp"])["submission_id"]
    record = client.get(f"/api/submissions/{sid}", headers=auth("prof-token")).json
    return record["stamp"]["record"]["score"], record["status"]


def test_release_feedback_sends_the_formgraders_manual_grades_first(
        app, client, instructor, exchange, platform, tmp_path, monkeypatch):
    """Browser-only week: the instructor grades the manual items in the formgrader and
    clicks Generate then Release Feedback, never a terminal. The feedback students
    fetch, the service's signed record, the CSV and the LMS hold the same total; a
    student whose manual items are not graded yet stays PendingManual everywhere."""
    api, root = instructor
    expected = capstone_source(root)
    assert api.generate_assignment("m08_capstone")["success"]
    assert api.release_assignment("m08_capstone")["success"]
    marker = tmp_path / "student-code-ran"
    for user in ("alice", "bob"):
        submit_with_marker(exchange, tmp_path, monkeypatch, user, "m08_capstone", marker)
    auto = {"rubric:model_spec": 2.0, "rubric:pipeline": 3.0, "rubric:artifact": 2.0}
    grade(app, {user: honest_result(expected, auto) for user in ("alice", "bob")})
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")
    assert api.collect("m08_capstone")["success"]

    with Gradebook(api.coursedir.db_url, COURSE) as gb:
        for name, points in (("framing", 2.0), ("experiments", 3.0), ("memo", 4.0)):
            gb.find_grade(name, "capstone", "m08_capstone", "alice").manual_score = points
        gb.db.commit()
    # the formgrader shows each hand-graded item's guide above the answer...
    graded_nb = nbformat.read(str(root / "autograded" / "alice" / "m08_capstone" /
                                  "capstone.ipynb"), as_version=4)
    names = [c.metadata.get("nbgrader", {}).get("grade_id") or
             ("GUIDE" if GUIDE_TAG in c.metadata.get("tags", []) else None)
             for c in graded_nb.cells]
    for item in ("framing", "experiments", "memo"):
        assert names[names.index(item) - 1] == "GUIDE", names
    assert "Full-credit exemplar" in nbformat.writes(graded_nb)
    assert api.generate_feedback("m08_capstone")["success"]
    # ...and the feedback students get holds none of it
    for user in ("alice", "bob"):
        html = feedback_score(root, user, "m08_capstone", "capstone")[2]
        assert "exemplar" not in html and GUIDE_TAG not in html
    # feedback generated without the filter (another config) is never released
    leaky = root / "feedback" / "bob" / "m08_capstone" / "capstone.html"
    leaky.write_text(leaky.read_text() + f'<div class="celltag_{GUIDE_TAG}">guide</div>')
    released = api.release_feedback("m08_capstone")
    assert released["success"], released
    assert "alice: final grade 16/20 signed" in released["log"], released["log"]
    get_workers(app).service.export_pending()

    fed_back, _max, html = feedback_score(root, "alice", "m08_capstone", "capstone")
    assert f"of roll number <code>{LMS_ROLLS['alice']}</code>" in html
    assert LMS_ROLLS["bob"] not in html
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/api/courses/{COURSE}/gradebook.csv", headers=auth("prof-token")).data.decode())))
    csv_score = float(next(r["score"] for r in rows if r["username"] == "alice"))
    lms = platform.scores_for("alice")["m08_capstone"]
    assert fed_back == service_score(client, "alice", "m08_capstone")[0] == csv_score \
        == lms["scoreGiven"] == 16.0
    assert lms["gradingProgress"] == "FullyGraded"
    # bob's manual items are not graded yet: said in the log, not final anywhere
    assert service_score(client, "bob", "m08_capstone")[0] == 7.0
    assert platform.scores_for("bob")["m08_capstone"]["gradingProgress"] == "PendingManual"
    assert "bob: still pending manual grades" in released["log"]
    assert "Not releasing feedback for bob: it holds the instructors' grading guide" \
        in released["log"]
    rows = client.get(f"/api/courses/{COURSE}/submissions?assignment=m08_capstone",
                      headers=auth("prof-token")).json
    assert {r["username"]: r["has_feedback"] for r in rows} == {"alice": True, "bob": False}
    assert not marker.exists()


def test_rubric_items_without_a_cell_and_cells_without_an_item():
    """A rubric lab whose cells are not named like its items: the matching cell gets its
    item's verdict, an unmatched test cell says it is not counted, a rubric-only item is
    listed in the summary only."""
    from grader_service.pull_results import _wanted, annotate

    nb = new_notebook(cells=[
        new_code_cell("x = 1", metadata=nbgrader_meta("answer", solution=True)),
        new_code_cell("# tests", metadata=nbgrader_meta("model_spec", grade=True, points=2)),
        new_code_cell("# tests", metadata=nbgrader_meta("test_pipeline", grade=True, points=6)),
        new_code_cell("# made up", metadata=nbgrader_meta("bogus", grade=True, points=9)),
    ])
    record = {"tests": [
        {"notebook": "lab.ipynb", "grade_id": "rubric:model_spec", "points": 2.0,
         "max_points": 2.0, "passed": True, "message": "ok", "manual": False},
        {"notebook": "lab.ipynb", "grade_id": "rubric:pipeline", "points": 1.0,
         "max_points": 4.0, "passed": False, "message": "AUC <b>0.4</b> | low",
         "manual": False}],
        "notebooks": {"lab.ipynb": {"score": 3.0, "max_score": 6.0, "problem": None}}}
    cells = {"model_spec": ("auto", 2), "test_pipeline": ("auto", 6)}
    row = {"submission_id": "s1", "timestamp": "2030-01-01T00:00:00Z", "late": False}
    once = annotate(nbformat.writes(nb).encode(), "lab", cells, record, row)
    assert annotate(once, "lab", cells, record, row) == once  # same bytes again
    out = nbformat.reads(once.decode(), as_version=4)
    summary = out.cells[0].source
    assert "| `rubric:pipeline` | 1 / 4 | failed | not a cell: counted by the service only" \
        in summary and "AUC &lt;b&gt;0.4&lt;/b&gt; \\| low" in summary
    assert "Notebook total in the service: 3 / 6" in summary
    texts = [c.outputs[0]["text"] for c in out.cells[2:4]]
    assert texts[0].startswith("Grading service: passed, 2/2 point(s): ok")
    assert "not one of the service's items" in texts[1]
    assert "nbgrader" not in out.cells[4].metadata  # a cell the gradebook does not know
    assert _wanted("auto", None, None) == {"auto_score": None, "needs_manual_grade": False}


def test_the_service_serves_the_guides_of_an_assignments_hand_graded_items():
    from grader_service.api.grading_guide import assignment_guides

    guides = assignment_guides("m03_mlp_scratch_2",
                               ["mlp_scratch_part2.ipynb", "roll_compare.ipynb"])
    assert [(g["notebook"], g["grade_id"], g["points"]) for g in guides] == [
        ("mlp_scratch_part2.ipynb", "rubric:presentation", 3),
        ("roll_compare.ipynb", "rubric:discussion", 2)]
    assert assignment_guides("ps0", ["ps0.ipynb"]) == []  # no rubric, no guide
