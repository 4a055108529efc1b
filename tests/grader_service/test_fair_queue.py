"""The fair queue: a student's newer submission supersedes their queued older one, and
claims go round-robin by student, so one student's flood delays another by one job."""

from grader_testing import auth

from grader_service import queue
from grader_service.db import Status, Submission, session_factory
from grader_service.worker import get_workers

BOTH_BACKENDS = True


def _claim_all(app):
    """Claim and finish every job with a trivial outcome; return the claimed rows in order."""
    claimed = []
    sessions = session_factory(app)
    with sessions() as session:
        while (job := queue.claim_next(session, "worker-a", 60)) is not None:
            claimed.append((job.id, job.username, job.assignment))
            assert queue.finish(session, job.id, "worker-a", status=Status.GRADED)
    return claimed


def test_flood_is_collapsed_and_does_not_delay_another_student(app, client, actions, released):
    flood = [actions.submit().json["submission_id"] for _ in range(50)]
    bob = actions.submit(token="bob-token").json["submission_id"]

    claimed = _claim_all(app)
    assert [sid for sid, _, _ in claimed] == [flood[-1], bob] or \
        [sid for sid, _, _ in claimed] == [bob, flood[-1]]

    # nothing is lost: every submission is stored, the older ones say why they were skipped
    with session_factory(app)() as session:
        rows = {row.id: row for row in session.query(Submission)}
    assert len(rows) == 51
    for sid, newer in zip(flood[:-1], flood[1:], strict=True):  # a chain to the graded one
        assert rows[sid].status == Status.SUPERSEDED
        assert rows[sid].result["superseded_by"] == newer
        assert "replaced it" in rows[sid].result["message"]
    shown = client.get(f"/api/submissions/{flood[0]}", headers=auth("alice-token")).json
    assert shown["status"] == "superseded" and shown["result"]["superseded_by"] == flood[1]

    # an assignment-wide regrade leaves superseded submissions alone; one by id is possible
    regrade = client.post("/api/courses/ml101/assignments/ps0/regrade",
                          headers=auth("prof-token"))
    assert regrade.json["requeued"] == 2
    assert client.post(f"/api/submissions/{flood[0]}/regrade",
                       headers=auth("prof-token")).status_code == 202


def test_claims_are_round_robin_by_student(app, actions, released):
    assert actions.release(assignment="ps1").status_code == 201
    alice_ps0 = actions.submit().json["submission_id"]
    alice_ps1 = actions.submit(assignment="ps1").json["submission_id"]
    bob = actions.submit(token="bob-token").json["submission_id"]

    order = [sid for sid, _, _ in _claim_all(app)]
    # alice's second job waits for bob's, although it was submitted first
    assert order == [alice_ps0, bob, alice_ps1]


def test_a_running_job_is_not_superseded(app, actions, released):
    first = actions.submit().json["submission_id"]
    with session_factory(app)() as session:
        assert queue.claim_next(session, "worker-a", 60).id == first
    second = actions.submit().json["submission_id"]
    with session_factory(app)() as session:
        assert session.get(Submission, first).status == Status.RUNNING
        assert session.get(Submission, second).status == Status.QUEUED


def test_worker_grades_only_the_newest(app, actions, released):
    sids = [actions.submit().json["submission_id"] for _ in range(3)]
    graded = get_workers(app).run_once()
    assert graded.id == sids[-1]
    assert get_workers(app).run_once() is None
