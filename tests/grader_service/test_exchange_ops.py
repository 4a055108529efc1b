"""The remaining nbgrader operations through ExchangeFactory against the Flask app:
collect, release_feedback, fetch_feedback, list --remove, path_includes_course, policy traits."""

import io

import pytest
from grader_testing import COURSE, auth
from nbgrader.exchange import ExchangeError

from grader_service.worker import get_workers


@pytest.fixture
def course_released(exchange, instructor_dir):
    exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0").start()
    return instructor_dir


def _fetch_and_submit(exchange, tmp_path, monkeypatch, token, roll, **traits):
    student = tmp_path / token.split("-")[0]
    student.mkdir(exist_ok=True)
    fetch = exchange("FetchAssignment", token, student, "ps0")
    fetch.replace_missing_files = True
    for key, value in traits.items():
        setattr(fetch, key, value)
    fetch.start()
    monkeypatch.setenv("ROLL_NUMBER", roll)
    submit = exchange("Submit", token, student, "ps0")
    for key, value in traits.items():
        setattr(submit, key, value)
    submit.start()
    return student, submit.reply


def _collect(exchange, instructor_dir, **traits):
    collect = exchange("Collect", "prof-token", instructor_dir, "ps0")
    for key, value in traits.items():
        setattr(collect, key, value)
    collect.start()
    return instructor_dir / "submitted"


def test_collect_takes_latest_and_update_refreshes(exchange, course_released, tmp_path,
                                                   monkeypatch):
    _student, first = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    _student, second = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    _fetch_and_submit(exchange, tmp_path, monkeypatch, "bob-token", "21CS002")
    submitted = _collect(exchange, course_released)
    assert sorted(p.name for p in submitted.iterdir()) == ["alice", "bob"]
    alice = submitted / "alice" / "ps0"
    assert (alice / "ps0.ipynb").is_file()
    assert (alice / "timestamp.txt").read_text() == second["timestamp"]
    assert (alice / "submission_id.txt").read_text() == second["submission_id"]
    assert first["timestamp"] < second["timestamp"]

    _student, third = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    _collect(exchange, course_released)  # without --update: kept
    assert (alice / "timestamp.txt").read_text() == second["timestamp"]
    _collect(exchange, course_released, update=True)
    assert (alice / "timestamp.txt").read_text() == third["timestamp"]


def test_collect_before_duedate_prefers_on_time_submission(exchange, actions, course_released,
                                                           tmp_path, monkeypatch):
    on_time = actions.submit().json
    actions.release(due_at="2020-01-01T00:00:00Z")  # due date now in the past
    late = actions.submit().json
    assert (on_time["late"], late["late"]) == (False, True)
    submitted = _collect(exchange, course_released, before_duedate=True)
    assert (submitted / "alice" / "ps0" / "timestamp.txt").read_text() == on_time["timestamp"]


def test_release_and_fetch_feedback(exchange, app, course_released, tmp_path, monkeypatch):
    student, reply = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    bob, _ = _fetch_and_submit(exchange, tmp_path, monkeypatch, "bob-token", "21CS002")
    submitted = _collect(exchange, course_released)
    feedback = course_released / "feedback" / "alice" / "ps0"
    feedback.mkdir(parents=True)
    (feedback / "ps0.html").write_text("<p>well done</p>")
    (feedback / "timestamp.txt").write_text(
        (submitted / "alice" / "ps0" / "timestamp.txt").read_text())
    exchange("ReleaseFeedback", "prof-token", course_released, "ps0").start()

    exchange("FetchFeedback", "alice-token", student, "ps0").start()
    fetched = student / "ps0" / "feedback" / reply["timestamp"] / "ps0.html"
    assert fetched.read_text() == "<p>well done</p>"
    assert not (student / "ps0" / "feedback" / reply["timestamp"] / "timestamp.txt").exists()

    cached = exchange("List", "alice-token", student)
    cached.cached = True
    [entry] = cached.start()
    [sub] = entry["submissions"]
    assert sub["has_exchange_feedback"] and sub["has_local_feedback"]

    exchange("FetchFeedback", "bob-token", bob, "ps0").start()  # none for bob: a warning
    assert not (bob / "ps0" / "feedback").exists()


def test_feedback_is_instructor_released_only(client, actions, released, tar_of):
    sid = actions.submit().json["submission_id"]
    body = {"feedback": (io.BytesIO(tar_of({"ps0.html": b"<p>x</p>"})), "f.tar.gz")}
    forged = client.put(f"/api/submissions/{sid}/feedback", headers=auth("alice-token"),
                        data=body)
    assert forged.status_code == 403
    assert client.get(f"/api/submissions/{sid}/feedback",
                      headers=auth("alice-token")).status_code == 404


def test_path_includes_course(exchange, course_released, tmp_path, monkeypatch):
    student, reply = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001",
                                       path_includes_course=True)
    assert (student / COURSE / "ps0" / "ps0.ipynb").is_file()
    assert not (student / "ps0").exists()
    listing = exchange("List", "alice-token", student)
    listing.path_includes_course = True
    [entry] = listing.start()
    assert entry["status"] == "fetched" and entry["path"] == str(student / COURSE / "ps0")
    assert reply["status"] == "queued"


def test_list_remove_withdraws_release_but_not_submissions(exchange, client, course_released,
                                                           tmp_path, monkeypatch):
    student, reply = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    outbound = exchange("List", "alice-token", student, "ps0")
    outbound.remove = True
    with pytest.raises(ExchangeError, match="HTTP 403"):
        outbound.start()
    cached = exchange("List", "alice-token", student, "ps0")
    cached.cached = cached.remove = True
    with pytest.raises(ExchangeError, match="permanent"):
        cached.start()
    removal = exchange("List", "prof-token", course_released, "ps0")
    removal.remove = True
    removal.start()
    assert exchange("List", "alice-token", student).start() == []
    kept = client.get(f"/api/submissions/{reply['submission_id']}", headers=auth("alice-token"))
    assert kept.status_code == 200


def test_release_policy_traits_reach_the_service(exchange, instructor_dir, client):
    release = exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0")
    release.due_at = "2030-06-01T12:00:00+02:00"
    release.allow_late = False
    release.max_submissions = 2
    release.start()
    [item] = client.get(f"/api/courses/{COURSE}/assignments", headers=auth("bob-token")).json
    assert item["due_at"] == "2030-06-01T10:00:00.000000Z"
    assert (item["allow_late"], item["max_submissions"]) == (False, 2)


def test_graded_submission_listed_with_grading_status(exchange, app, course_released, tmp_path,
                                                      monkeypatch):
    student, _ = _fetch_and_submit(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    get_workers(app).run_once()
    inbound = exchange("List", "prof-token", course_released)
    inbound.inbound = True
    [entry] = inbound.start()
    assert entry["submissions"][0]["grading_status"] == "graded"
