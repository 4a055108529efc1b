"""HTTP API blueprint: releases, submissions, results, gradebook, public key, health, metrics."""

import csv
import io
import re
import uuid

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from .auth import Identity, Role, current_identity
from .blobs import get_blobs
from .db import Assignment, Status, Submission, get_db, utcnow
from .exporters import GRADEBOOK_COLUMNS, gradebook_row
from .metrics import get_metrics
from .queue import queue_depth
from .stamp import get_signer
from .tarsafe import ArchiveTooLarge, UnsafeArchive, inspect_archive
from .worker import get_workers

bp = Blueprint("api", __name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ANY_MEMBER = (Role.INSTRUCTOR, Role.STUDENT)


def authorize(course, *roles) -> tuple[Identity, Role]:
    """Identify the caller and require one of ``roles`` in ``course`` (401/403/404)."""
    if not _NAME.match(course):
        abort(404, f"no such course: {course!r}")
    identity = current_identity()
    role = identity.role_in(course)
    if role not in roles:
        wanted = " or ".join(r.value for r in roles)
        abort(403, f"{identity.username} is not {wanted} in course {course}")
    return identity, role


def get_assignment(course, name) -> Assignment:
    if not _NAME.match(name):
        abort(404, f"no such assignment: {name!r}")
    assignment = get_db().get(Assignment, (course, name))
    if assignment is None:
        abort(404, f"assignment {name} of course {course} has not been released")
    return assignment


def read_upload(field, max_unpacked) -> tuple[bytes, list]:
    """The bytes of multipart file ``field`` after the tar safety checks (400/413)."""
    upload = request.files.get(field)
    if upload is None:
        abort(400, f"missing multipart file field {field!r}")
    data = upload.read()
    try:
        names = inspect_archive(data, max_unpacked)
    except ArchiveTooLarge as err:
        abort(413, f"{field}: {err}")
    except UnsafeArchive as err:
        abort(400, f"{field}: {err}")
    return data, names


@bp.get("/health")
def health():
    return {"status": "ok"}


@bp.get("/metrics")
def metrics():
    registry = get_metrics()
    registry.queue_depth.set(queue_depth(get_db()))
    return Response(generate_latest(registry.registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/api/public-key")
def public_key():
    return Response(get_signer().public_key_pem, mimetype="application/x-pem-file")


@bp.get("/api/courses")
def my_courses():
    identity = current_identity()
    return jsonify([{"course": c, "role": r.value} for c, r in sorted(identity.courses().items())])


@bp.post("/api/courses/<course>/assignments/<assignment>/release")
def release(course, assignment):
    identity, _ = authorize(course, Role.INSTRUCTOR)
    if not _NAME.match(assignment):
        abort(400, f"invalid assignment name {assignment!r}")
    limit = current_app.config["MAX_UNPACKED_BYTES"]
    release_data, release_names = read_upload("release", limit)
    source_data, source_names = read_upload("source", limit)
    if not any(n.endswith(".ipynb") for n in source_names):
        abort(400, "source archive holds no notebook")
    blobs, db = get_blobs(), get_db()
    row = db.get(Assignment, (course, assignment)) or Assignment(course=course, name=assignment)
    row.release_sha256 = blobs.put(release_data)
    row.source_sha256 = blobs.put(source_data)
    row.notebooks = sorted(n for n in release_names if n.endswith(".ipynb"))
    row.released_by = identity.username
    row.released_at = utcnow()
    db.add(row)
    db.commit()
    return jsonify(row.to_json()), 201


@bp.get("/api/courses/<course>/assignments")
def list_assignments(course):
    authorize(course, *ANY_MEMBER)
    rows = get_db().scalars(select(Assignment).where(Assignment.course == course)
                            .order_by(Assignment.name))
    return jsonify([row.to_json() for row in rows])


@bp.get("/api/courses/<course>/assignments/<assignment>/release")
def download_release(course, assignment):
    authorize(course, *ANY_MEMBER)
    row = get_assignment(course, assignment)
    return send_file(get_blobs().path(row.release_sha256), mimetype="application/gzip",
                     as_attachment=True, download_name=f"{assignment}.tar.gz")


@bp.post("/api/courses/<course>/assignments/<assignment>/submissions")
def submit(course, assignment):
    identity, _ = authorize(course, Role.STUDENT)
    get_assignment(course, assignment)
    check_claimed_identity(identity)
    if not identity.roll_number:
        abort(403, "your account has no roll number from the university login; log out and "
                   "log in again, or ask the course staff")
    data, _names = read_upload("submission", current_app.config["MAX_UNPACKED_BYTES"])
    db = get_db()
    row = Submission(id=uuid.uuid4().hex, course=course, assignment=assignment,
                     username=identity.username, roll_number=identity.roll_number,
                     sha256=get_blobs().put(data), size=len(data), status=Status.QUEUED,
                     submitted_at=utcnow())
    db.add(row)
    db.commit()  # durable (blob fsynced, row committed) before we answer
    get_metrics().submissions_received.inc()
    get_workers().notify()
    body = {"submission_id": row.id, "timestamp": row.to_json()["timestamp"],
            "sha256": row.sha256, "status": row.status}
    return jsonify(body), 202


def check_claimed_identity(identity):
    """Reject a request whose form fields claim someone else's student id or roll number."""
    claimed_id = request.form.get("student_id")
    if claimed_id and claimed_id != identity.username:
        abort(403, f"student_id {claimed_id!r} does not match the authenticated user "
                   f"{identity.username!r}")
    claimed_roll = request.form.get("roll_number")
    if claimed_roll and claimed_roll != identity.roll_number:
        abort(403, f"roll_number {claimed_roll!r} does not match the roll number from your "
                   "login; submissions are recorded under the authenticated roll number only")


@bp.get("/api/courses/<course>/submissions")
def list_submissions(course):
    identity, role = authorize(course, *ANY_MEMBER)
    query = select(Submission).where(Submission.course == course)
    if role is not Role.INSTRUCTOR:
        query = query.where(Submission.username == identity.username)
    if request.args.get("assignment"):
        query = query.where(Submission.assignment == request.args["assignment"])
    rows = get_db().scalars(query.order_by(Submission.submitted_at))
    return jsonify([row.to_json(include_stamp=False) for row in rows])


@bp.get("/api/submissions/<submission_id>")
def get_submission(submission_id):
    identity = current_identity()
    row = get_db().get(Submission, submission_id)
    if row is None or not (row.username == identity.username
                           or identity.role_in(row.course) is Role.INSTRUCTOR):
        abort(404, f"no submission {submission_id} visible to {identity.username}")
    return jsonify(row.to_json())


@bp.get("/api/courses/<course>/gradebook.csv")
def gradebook(course):
    authorize(course, Role.INSTRUCTOR)
    rows = get_db().scalars(select(Submission).where(
        Submission.course == course, Submission.status == Status.GRADED)
        .order_by(Submission.graded_at))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GRADEBOOK_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(gradebook_row(row.result))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={course}-gradebook.csv"})
