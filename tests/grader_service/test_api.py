"""HTTP API: auth, roles, identity claims, tar safety, durability, listings, routing."""

import hashlib
import io
import os

import pytest
from grader_testing import COURSE, auth, fixture_tar, stored_submissions

BOTH_BACKENDS = True


def test_health_with_and_without_service_prefix(client):
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/services/grader/health").json == {"status": "ok"}


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "token forged-token"}, 401),
    ({"Authorization": "Bearer forged-token"}, 401),
    ({"Authorization": "Basic YWxpY2U6eA=="}, 401),
    (auth("eve-token"), 403),  # student of another course
    (auth("alice-token"), 200),
    ({"Authorization": "Bearer alice-token"}, 200),
])
def test_course_membership_required(client, released, headers, status):
    response = client.get(f"/api/courses/{COURSE}/assignments", headers=headers)
    assert response.status_code == status
    if status >= 400:
        assert "error" in response.json


@pytest.mark.parametrize("method, path", [
    ("post", f"/api/courses/{COURSE}/assignments/ps0/release"),
    ("get", f"/api/courses/{COURSE}/gradebook.csv"),
])
def test_instructor_only_endpoints_reject_students(client, method, path):
    response = getattr(client, method)(path, headers=auth("alice-token"))
    assert response.status_code == 403
    assert "not instructor" in response.json["error"]


def test_release_then_list_and_download(client, released):
    listing = client.get(f"/api/courses/{COURSE}/assignments", headers=auth("bob-token")).json
    assert [a["assignment"] for a in listing] == ["ps0"]
    assert listing[0]["notebooks"] == ["ps0.ipynb"]
    assert listing[0]["released_at"].endswith("Z")
    download = client.get(f"/api/courses/{COURSE}/assignments/ps0/release",
                          headers=auth("alice-token"))
    assert download.status_code == 200
    assert download.data == fixture_tar("release")
    assert b"HIDDEN TESTS" not in _unpacked_text(download.data)


def _unpacked_text(tar_bytes):
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return b"".join(tar.extractfile(m).read() for m in tar if m.isfile())


def test_submit_before_release_is_404(actions):
    assert actions.submit().status_code == 404


def test_instructor_cannot_submit_as_student(actions, released):
    assert actions.submit(token="prof-token").status_code == 403


@pytest.mark.parametrize("form", [
    {"student_id": "bob"},
    {"roll_number": "21CS002"},
    {"student_id": "alice", "roll_number": "21CS002"},
])
def test_claiming_another_identity_is_rejected(app, actions, released, data_dir, form):
    response = actions.submit(**form)
    assert response.status_code == 403
    assert "does not match" in response.json["error"]
    assert stored_submissions(app) == []


def test_raw_archive_submit_with_claims_in_headers(app, actions, released, evil_tar):
    data = fixture_tar("student_right")
    reply = actions.submit_raw(data=data, claims={"X-Student-Id": "alice",
                                                  "X-Roll-Number": "21CS001"})
    assert reply.status_code == 202, reply.json
    assert reply.json["sha256"] == hashlib.sha256(data).hexdigest()
    forged = actions.submit_raw(claims={"X-Roll-Number": "21CS002"})
    assert forged.status_code == 403 and "does not match" in forged.json["error"]
    assert actions.submit_raw(data=evil_tar("dotdot")).status_code == 400
    assert actions.submit_raw(data=b"\0" * (3 * 1024 * 1024)).status_code == 413
    assert len(stored_submissions(app)) == 1


def test_an_empty_archive_is_refused(app, actions, released, tar_of):
    empty = tar_of({})
    for reply in (actions.submit(data=empty), actions.submit_raw(data=empty)):
        assert reply.status_code == 400 and "holds no files" in reply.json["error"]
    assert stored_submissions(app) == []


def test_student_without_roll_number_cannot_submit(app, actions, released, data_dir):
    response = actions.submit(token="nora-token")
    assert response.status_code == 403
    assert "no roll number" in response.json["error"]
    assert stored_submissions(app) == []


def test_matching_claims_are_accepted(actions, released):
    response = actions.submit(student_id="alice", roll_number="21CS001")
    assert response.status_code == 202


@pytest.mark.parametrize("kind, status", [
    ("absolute", 400), ("dotdot", 400), ("symlink", 400), ("hardlink", 400),
    ("device", 400), ("fifo", 400), ("garbage", 400), ("bomb", 413),
])
def test_unsafe_archives_are_rejected_and_nothing_stored(app, actions, released, evil_tar, data_dir,
                                                         kind, status):
    blobs_before = _blob_files(data_dir)
    response = actions.submit(data=evil_tar(kind))
    assert response.status_code == status, response.json
    assert response.json["error"]
    assert stored_submissions(app) == []
    assert _blob_files(data_dir) == blobs_before


def test_oversize_upload_is_413(app, actions, released, data_dir):
    response = actions.submit(data=os.urandom(3 * 1024 * 1024))  # limit is 2 MiB in tests
    assert response.status_code == 413
    assert stored_submissions(app) == []


def test_submission_is_durable_before_202(app, actions, released, data_dir, monkeypatch):
    import grader_service.blobs as blobs

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(blobs.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    data = fixture_tar("student_right")
    response = actions.submit(data=data)
    assert response.status_code == 202
    body = response.json
    assert body["status"] == "queued"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["timestamp"].endswith("Z")
    assert synced, "blob was not fsynced"
    # visible to an independent connection, with the blob in place, when the reply is sent
    assert stored_submissions(app) == [(body["submission_id"], "alice", "21CS001", "queued")]
    blob = os.path.join(data_dir, "blobs", body["sha256"][:2], body["sha256"])
    with open(blob, "rb") as fh:
        assert fh.read() == data


def test_students_see_only_their_own_submissions(client, actions, released):
    alice = actions.submit(token="alice-token").json["submission_id"]
    bob = actions.submit(token="bob-token").json["submission_id"]
    mine = client.get(f"/api/courses/{COURSE}/submissions", headers=auth("alice-token")).json
    assert [s["submission_id"] for s in mine] == [alice]
    everyone = client.get(f"/api/courses/{COURSE}/submissions", headers=auth("prof-token")).json
    assert {s["submission_id"] for s in everyone} == {alice, bob}
    assert client.get(f"/api/submissions/{bob}", headers=auth("alice-token")).status_code == 404
    assert client.get(f"/api/submissions/{bob}", headers=auth("prof-token")).status_code == 200
    own = client.get(f"/api/submissions/{alice}", headers=auth("alice-token")).json
    assert own["status"] == "queued" and own["roll_number"] == "21CS001"


def test_public_key_and_metrics(client, actions, released):
    actions.submit()
    assert client.get("/api/public-key").data.startswith(b"-----BEGIN PUBLIC KEY-----")
    text = client.get("/services/grader/metrics").data.decode()
    assert "grader_submissions_accepted_total 1.0" in text
    assert 'grader_jobs_current{status="queued"} 1.0' in text
    assert 'grader_jobs_finished_total{outcome="timeout"} 0.0' in text
    assert "grader_grading_duration_seconds_bucket" in text


def test_metrics_registries_are_per_app(app, tmp_path):
    from grader_service.metrics import get_metrics
    from tests.grader_service.prepared import prepared_app

    second = prepared_app({"DATA_DIR": str(tmp_path / "other"), "RUNNER": "local"})
    get_metrics(app).submissions_accepted.inc()
    assert get_metrics(second).submissions_accepted._value.get() == 0


def _blob_files(data_dir):
    root = os.path.join(data_dir, "blobs")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)
