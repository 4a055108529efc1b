"""Queue and worker (LocalRunner and a stub runner): states, leases, idempotent results."""

import csv
import datetime
import os
import threading
import time

import pytest
from grader_testing import COURSE, auth, ps0_result

from grader_service import queue
from grader_service.db import Status, Submission, session_factory, utcnow
from grader_service.outcomes import Outcome
from grader_service.runners import RunResult
from grader_service.stamp import verify_stamp
from grader_service.worker import get_workers

BOTH_BACKENDS = True


def test_graded_submission_is_stamped_and_exported(app, client, actions, released, data_dir):
    sid = actions.submit(variant="student_wrong").json["submission_id"]
    graded = get_workers(app).run_once()
    assert graded.id == sid and graded.status == Status.GRADED
    assert get_workers(app).run_once() is None  # queue empty

    body = client.get(f"/api/submissions/{sid}", headers=auth("alice-token")).json
    record = body["stamp"]["record"]
    assert (record["score"], record["max_score"]) == (1.0, 3.0)
    assert record["roll_number"] == "21CS001" and record["username"] == "alice"
    assert record["submission_sha256"] == body["sha256"]
    assert record["sandbox"]["runner"] == "local"
    pem = client.get("/api/public-key").data
    assert verify_stamp(body["stamp"], pem)

    assert [(r["submission_id"], r["score"]) for r in _csv_rows(data_dir)] == [(sid, "1.0")]
    gradebook = client.get(f"/api/courses/{COURSE}/gradebook.csv", headers=auth("prof-token"))
    assert sid in gradebook.data.decode()

    metrics = client.get("/metrics").data.decode()
    assert 'grader_jobs_finished_total{outcome="success"} 1.0' in metrics
    assert 'grader_exports_finished_total{exporter="csv",outcome="delivered"} 1.0' in metrics


class StubRunner:
    """Returns canned outcomes (or raises) without running anything."""

    name = "stub"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def run(self, bundle, cancelled=None):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.SUCCESS
        if outcome == "raise":
            raise ConnectionError("docker is down")
        result = ps0_result(test_add_floats=1.0) if outcome is Outcome.SUCCESS else None
        return RunResult(outcome, result, {"runner": "stub"}, "stub message", 0.01)


@pytest.fixture
def stub_runner(app):
    """Factory: swap the app's runner for a :class:`StubRunner` with the given outcomes."""

    def install(*outcomes):
        runner = StubRunner(*outcomes)
        get_workers(app).service.runner = runner
        return runner

    return install


def _status(app, sid):
    with session_factory(app)() as session:
        return session.get(Submission, sid)


@pytest.mark.parametrize("outcomes, status, runs", [
    ((Outcome.SUCCESS,), Status.GRADED, 1),
    ((Outcome.TIMEOUT,), Status.UNGRADABLE, 1),
    ((Outcome.OOM,), Status.UNGRADABLE, 1),
    ((Outcome.ERROR,), Status.UNGRADABLE, 1),
    (("raise", Outcome.SUCCESS), Status.GRADED, 2),  # infrastructure failure is retried
    (("raise", "raise", "raise"), Status.FAILED, 3),  # MAX_ATTEMPTS = 3
])
def test_final_states(app, actions, released, stub_runner, outcomes, status, runs):
    runner = stub_runner(*outcomes)
    sid = actions.submit().json["submission_id"]
    while get_workers(app).run_once() is not None:
        pass
    row = _status(app, sid)
    assert row.status == status and runner.calls == runs
    assert row.lease_owner is None


def test_claim_is_exclusive_and_expired_lease_is_reclaimed(app, actions, released):
    sid = actions.submit().json["submission_id"]
    sessions = session_factory(app)
    with sessions() as one, sessions() as two:
        first = queue.claim_next(one, "worker-a", lease_seconds=60)
        assert first.id == sid and first.status == Status.RUNNING and first.attempts == 1
        assert queue.claim_next(two, "worker-b", lease_seconds=60) is None  # leased
        assert queue.heartbeat(one, sid, "worker-a", 60)
        _expire_lease(two, sid)  # worker-a died: no more heartbeats
        again = queue.claim_next(two, "worker-b", lease_seconds=60)
        assert again.id == sid and again.attempts == 2 and again.lease_owner == "worker-b"
        assert not queue.heartbeat(one, sid, "worker-a", 60)  # the old lease is gone
        # at-least-once execution, exactly-once recording: the late result is discarded
        assert not queue.finish(one, sid, "worker-a", status=Status.GRADED)
        assert queue.finish(two, sid, "worker-b", status=Status.GRADED)
        assert not queue.finish(two, sid, "worker-b", status=Status.UNGRADABLE)
    assert _status(app, sid).status == Status.GRADED


def _expire_lease(session, sid):
    row = session.get(Submission, sid)
    row.lease_expires_at = utcnow() - datetime.timedelta(seconds=1)
    session.commit()


def test_heartbeat_keeps_a_slow_job_leased(app, actions, released, stub_runner):
    service = get_workers(app).service
    service.lease_seconds = 0.6
    runner = stub_runner()
    original = runner.run
    runner.run = lambda bundle, cancelled=None: (time.sleep(1.5), original(bundle))[1]
    sid = actions.submit().json["submission_id"]
    row = get_workers(app).run_once()
    assert row is not None and row.id == sid and row.status == Status.GRADED
    assert row.attempts == 1  # never re-claimed although the job outlived its lease 2x


def test_cancel_queued_and_running(app, client, actions, released):
    first = actions.submit().json["submission_id"]
    reply = client.post(f"/api/submissions/{first}/cancel", headers=auth("alice-token"))
    assert reply.status_code == 200 and reply.json["status"] == "cancelled"
    assert get_workers(app).run_once() is None  # nothing left to grade

    second = actions.submit().json["submission_id"]
    with session_factory(app)() as session:
        queue.claim_next(session, "worker-a", 60)
    assert client.post(f"/api/submissions/{second}/cancel",
                       headers=auth("prof-token")).status_code == 200
    with session_factory(app)() as session:
        assert not queue.finish(session, second, "worker-a", status=Status.GRADED)
    assert _status(app, second).status == Status.CANCELLED
    again = client.post(f"/api/submissions/{second}/cancel", headers=auth("prof-token"))
    assert again.status_code == 409


def test_cancelling_a_running_job_stops_its_sandbox(app, client, actions, released, stub_runner):
    """The heartbeat notices the lost lease and tells the runner to stop."""
    service = get_workers(app).service
    service.lease_seconds = 0.6  # a heartbeat every 0.2 s
    seen = {}

    def slow_run(bundle, cancelled=None):
        seen["stopped"] = cancelled.wait(30)  # a sandbox that runs until it is stopped
        return RunResult(Outcome.ERROR, None, {"runner": "stub"}, "killed", 0.0)

    stub_runner().run = slow_run
    sid = actions.submit().json["submission_id"]
    worker = threading.Thread(target=get_workers(app).run_once)
    worker.start()
    deadline = time.monotonic() + 10
    while _status(app, sid).status != Status.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled_at = time.monotonic()
    assert client.post(f"/api/submissions/{sid}/cancel",
                       headers=auth("alice-token")).status_code == 200
    worker.join(10)
    assert not worker.is_alive() and seen["stopped"] is True
    assert time.monotonic() - cancelled_at < 5
    assert _status(app, sid).status == Status.CANCELLED  # the killed run recorded nothing


def test_regrade_one_and_whole_assignment(app, client, actions, released, stub_runner, data_dir):
    stub_runner()
    alice = actions.submit().json["submission_id"]
    bob = actions.submit(token="bob-token").json["submission_id"]
    while get_workers(app).run_once() is not None:
        pass
    first_stamp = _status(app, alice).stamp
    assert client.post(f"/api/submissions/{alice}/regrade",
                       headers=auth("alice-token")).status_code == 403
    reply = client.post(f"/api/submissions/{alice}/regrade", headers=auth("prof-token"))
    assert reply.status_code == 202 and _status(app, alice).status == Status.QUEUED
    assert client.post(f"/api/submissions/{alice}/regrade",
                       headers=auth("prof-token")).status_code == 409  # already queued
    get_workers(app).run_once()
    assert _status(app, alice).stamp != first_stamp
    whole = client.post(f"/api/courses/{COURSE}/assignments/ps0/regrade",
                        headers=auth("prof-token"))
    assert whole.status_code == 202 and whole.json == {"requeued": 2}
    while get_workers(app).run_once() is not None:
        pass
    assert {_status(app, s).status for s in (alice, bob)} == {Status.GRADED}
    ids = [r["submission_id"] for r in _csv_rows(data_dir)]
    assert sorted(ids) == sorted([alice, bob, alice, alice, bob])  # one row per grading


def test_lost_export_is_replayed_once(app, actions, released, stub_runner, data_dir):
    stub_runner()
    service = get_workers(app).service
    exporters, service.exporters = service.exporters, []  # "crash" before exporting
    sid = actions.submit().json["submission_id"]
    get_workers(app).run_once()
    with session_factory(app)() as session:
        assert queue.unexported(session) == []  # no exporters: trivially delivered
        session.get(Submission, sid).exported_at = None
        session.commit()
    service.exporters = exporters
    assert service.export_pending() == 1
    assert service.export_pending() == 0
    assert [r["submission_id"] for r in _csv_rows(data_dir)] == [sid]


def _csv_rows(data_dir):
    path = os.path.join(data_dir, "gradebook.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
