"""Queue and worker end to end (LocalRunner): submit -> claim -> grade -> stamp -> CSV."""

import csv
import os

from grader_testing import COURSE, auth

from grader_service.db import Status, session_factory
from grader_service.queue import claim_next, requeue_running
from grader_service.stamp import verify_stamp
from grader_service.worker import get_workers


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

    with open(os.path.join(data_dir, "gradebook.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["submission_id"], r["score"]) for r in rows] == [(sid, "1.0")]
    gradebook = client.get(f"/api/courses/{COURSE}/gradebook.csv", headers=auth("prof-token"))
    assert sid in gradebook.data.decode()

    metrics = client.get("/metrics").data.decode()
    assert 'grader_gradings_total{outcome="success"} 1.0' in metrics


def test_claim_is_exclusive_and_crash_recovery_requeues(app, actions, released):
    actions.submit()
    sessions = session_factory(app)
    with sessions() as one, sessions() as two:
        first = claim_next(one)
        assert first is not None and first.status == Status.RUNNING
        assert claim_next(two) is None  # the only job is taken
        assert requeue_running(two) == 1  # as on restart after a crash
        assert claim_next(two).id == first.id
