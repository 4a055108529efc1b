"""Due dates, late flag, resubmission limit, upload limits (count, type) and the HTML report."""

import pytest
from grader_testing import COURSE, auth, stored_submissions

from grader_service.worker import get_workers

BOTH_BACKENDS = True


def _stored(app):
    return [(sid, bool(late)) for sid, late in stored_submissions(app, "id, late")]


@pytest.mark.parametrize("due_at, late", [
    ("2999-01-01T00:00:00Z", False),
    ("2000-01-01T00:00:00+05:30", True),
])
def test_late_flag_uses_the_server_clock(app, actions, due_at, late):
    assert actions.release(due_at=due_at).status_code == 201
    reply = actions.submit(timestamp="1999-01-01T00:00:00Z")  # a client clock is ignored
    assert reply.status_code == 202 and reply.json["late"] is late
    assert _stored(app) == [(reply.json["submission_id"], late)]


def test_late_submissions_can_be_refused(app, actions):
    actions.release(due_at="2000-01-01T00:00:00Z", allow_late="false")
    reply = actions.submit()
    assert reply.status_code == 409 and "late submissions are not accepted" in reply.json["error"]
    assert _stored(app) == []


def test_resubmission_limit(app, actions):
    actions.release(max_submissions="2")
    assert [actions.submit().json["attempt"] for _ in range(2)] == [1, 2]
    third = actions.submit()
    assert third.status_code == 409 and "at most 2" in third.json["error"]
    assert actions.submit(token="bob-token").status_code == 202  # the limit is per student
    assert len(_stored(app)) == 3


@pytest.mark.parametrize("form", [
    {"due_at": "next tuesday"}, {"allow_late": "maybe"}, {"max_submissions": "0"},
    {"max_submissions": "many"},
])
def test_invalid_policy_is_400(actions, form):
    reply = actions.release(**form)
    assert reply.status_code == 400 and "policy" in reply.json["error"]


@pytest.mark.parametrize("files, status, words", [
    ({f"f{i}.py": b"x" for i in range(101)}, 413, "at most 100"),
    ({"ps0.ipynb": b"{}", "run.sh": b"rm -rf /"}, 415, "run.sh"),
    ({"ps0.ipynb": b"{}", "model.EXE": b"MZ"}, 415, "model.EXE"),
])
def test_upload_limits_reject_and_store_nothing(app, actions, released, tar_of, client,
                                               files, status, words):
    reply = actions.submit(data=tar_of(files))
    assert reply.status_code == status and words in reply.json["error"]
    assert _stored(app) == []
    metrics = client.get("/metrics").data.decode()
    reason = "too_many_files" if status == 413 else "file_type"
    assert f'grader_submissions_rejected_total{{reason="{reason}"}} 1.0' in metrics


def test_allowed_types_are_accepted(actions, released, tar_of):
    files = {"ps0.ipynb": b"{}", "notes.MD": b"# hi",
             "data/x.npy": b"\x93NUMPY"}
    assert actions.submit(data=tar_of(files)).status_code == 202


def test_html_report_never_reveals_hidden_tests(app, client, actions, released):
    sid = actions.submit(variant="student_wrong").json["submission_id"]
    queued = client.get(f"/api/submissions/{sid}/report", headers=auth("alice-token"))
    assert queued.status_code == 200 and "Not graded yet" in queued.data.decode()
    get_workers(app).run_once()
    report = client.get(f"/api/submissions/{sid}/report", headers=auth("alice-token"))
    html = report.data.decode()
    assert report.mimetype == "text/html"
    assert "Score: 1.0 / 3.0" in html and "failed" in html
    assert "HIDDEN" not in html  # the marker of the instructor-only test cells
    assert client.get(f"/api/submissions/{sid}/report",
                      headers=auth("bob-token")).status_code == 404
    assert client.get(f"/api/courses/{COURSE}/gradebook.csv",
                      headers=auth("prof-token")).status_code == 200
