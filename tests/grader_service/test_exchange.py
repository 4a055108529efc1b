"""nbgrader exchange plugin against a live service (werkzeug server, static identities)."""

import pytest
from nbgrader.exchange import ExchangeError

from grader_service.worker import get_workers


def test_release_fetch_submit_list(exchange, instructor_dir, tmp_path, app, monkeypatch):
    exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0").start()

    student = tmp_path / "alice"
    student.mkdir()
    released = exchange("List", "alice-token", student).start()
    assert [(a["assignment_id"], a["status"]) for a in released] == [("ps0", "released")]

    exchange("FetchAssignment", "alice-token", student, "ps0").start()
    assert (student / "ps0" / "ps0.ipynb").is_file()
    assert b"HIDDEN" not in (student / "ps0" / "ps0.ipynb").read_bytes()
    assert exchange("List", "alice-token", student).start()[0]["status"] == "fetched"
    with pytest.raises(ExchangeError, match="already have a copy"):
        exchange("FetchAssignment", "alice-token", student, "ps0").start()

    monkeypatch.setenv("ROLL_NUMBER", "21CS001")
    submit = exchange("Submit", "alice-token", student, "ps0")
    submit.start()
    assert submit.reply["status"] == "queued"
    get_workers(app).run_once()

    cached = exchange("List", "alice-token", student, cached=True)
    cached.cached = True
    [entry] = cached.start()
    assert (entry["course_id"], entry["student_id"], entry["assignment_id"]) == (
        "ml101", "alice", "ps0")
    assert entry["submissions"][0]["grading_status"] == "graded"

    inbound = exchange("List", "prof-token", instructor_dir)
    inbound.inbound = True
    assert [e["student_id"] for e in inbound.start()] == ["alice"]


def test_service_errors_become_exchange_errors(exchange, instructor_dir, tmp_path, monkeypatch):
    exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0").start()
    student = tmp_path / "bob"
    student.mkdir()
    exchange("FetchAssignment", "bob-token", student, "ps0").start()
    monkeypatch.setenv("ROLL_NUMBER", "21CS001")  # alice's roll number: a forged claim
    with pytest.raises(ExchangeError, match=r"HTTP 403.*roll_number"):
        exchange("Submit", "bob-token", student, "ps0").start()
    with pytest.raises(ExchangeError, match="HTTP 401"):
        exchange("FetchAssignment", "forged", tmp_path, "ps0").start()
