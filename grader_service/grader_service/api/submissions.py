"""Submissions: submit (server-side identity, time and policy), list, read, collect, cancel, regrade."""

import logging
import uuid

from flask import Blueprint, abort, jsonify, request, send_file
from sqlalchemy import func, select

from .. import queue
from ..auth import Role
from ..blobs import get_blobs
from ..db import Status, Submission, get_db, utcnow
from ..metrics import Rejection, get_metrics
from ..policy import PolicyRefusal, decide
from ..worker import get_workers
from .access import ANY_MEMBER, authorize, get_assignment, visible_submission
from .uploads import read_upload, reject

bp = Blueprint("submissions", __name__)
log = logging.getLogger(__name__)


@bp.post("/api/courses/<course>/assignments/<assignment>/submissions")
def submit(course, assignment):
    identity, _ = authorize(course, Role.STUDENT)
    row_assignment = get_assignment(course, assignment)
    check_claimed_identity(identity)
    if not identity.roll_number:
        abort(403, "your account has no roll number from the university login; log out and "
                   "log in again, or ask the course staff")
    data, _names = read_upload("submission", student=True)
    db = get_db()
    now = utcnow()
    previous = db.scalar(select(func.count()).select_from(Submission).where(
        Submission.course == course, Submission.assignment == assignment,
        Submission.username == identity.username))
    try:
        decision = decide(row_assignment, previous, now)
    except PolicyRefusal as err:
        reject(409, Rejection.POLICY, str(err))
    row = Submission(id=uuid.uuid4().hex, course=course, assignment=assignment,
                     username=identity.username, roll_number=identity.roll_number,
                     sha256=get_blobs().put(data), size=len(data), status=Status.QUEUED,
                     submitted_at=now, late=decision.late, attempts=0)
    db.add(row)
    db.commit()  # durable (blob fsynced, row committed) before we answer
    get_metrics().submissions_accepted.inc()
    log.info("submission accepted", extra={"submission_id": row.id, "course": course,
                                           "assignment": assignment, "late": decision.late})
    get_workers().notify()
    body = {"submission_id": row.id, "timestamp": row.to_json()["timestamp"],
            "sha256": row.sha256, "status": row.status, "late": row.late,
            "attempt": decision.attempt}
    return jsonify(body), 202


def check_claimed_identity(identity):
    """Reject a request whose form fields claim someone else's student id or roll number."""
    claimed_id = request.form.get("student_id")
    claimed_roll = request.form.get("roll_number")
    if claimed_id and claimed_id != identity.username:
        reject(403, Rejection.IDENTITY, f"student_id {claimed_id!r} does not match the "
                                        f"authenticated user {identity.username!r}")
    if claimed_roll and claimed_roll != identity.roll_number:
        reject(403, Rejection.IDENTITY,
               f"roll_number {claimed_roll!r} does not match the roll number from your login; "
               "submissions are recorded under the authenticated roll number only")


@bp.get("/api/courses/<course>/submissions")
def list_submissions(course):
    """Students see their own submissions, instructors everyone's (``?assignment=`` filters)."""
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
    _, row = visible_submission(submission_id)
    return jsonify(row.to_json())


@bp.get("/api/submissions/<submission_id>/files")
def download_submission(submission_id):
    """The submitted archive (``nbgrader collect``; a student may re-download their own)."""
    _, row = visible_submission(submission_id)
    return send_file(get_blobs().path(row.sha256), mimetype="application/gzip",
                     as_attachment=True, download_name=f"{row.assignment}-{row.id}.tar.gz")


@bp.post("/api/submissions/<submission_id>/cancel")
def cancel_submission(submission_id):
    """Stop grading a queued or running submission (owner or instructor); 409 if finished."""
    _, row = visible_submission(submission_id)
    if not queue.cancel(get_db(), row.id):
        abort(409, f"submission {row.id} has already finished ({row.status})")
    return jsonify({"submission_id": row.id, "status": Status.CANCELLED.value})


@bp.post("/api/submissions/<submission_id>/regrade")
def regrade_submission(submission_id):
    """Queue one finished submission again (instructor); 409 if it is queued or running."""
    _, row = visible_submission(submission_id, instructor_only=True)
    if not queue.requeue(get_db(), Submission.id == row.id):
        abort(409, f"submission {row.id} is {row.status}; only a finished one can be regraded")
    get_workers().notify()
    return jsonify({"submission_id": row.id, "status": Status.QUEUED.value}), 202
