"""Submissions: submit (server-side identity, time and policy), list, read, collect, cancel,
regrade, stamp history."""

import logging
import uuid

from flask import Blueprint, abort, current_app, jsonify, request, send_file
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from .. import queue
from ..blobs import get_blobs
from ..db import Status, Submission, SupersededStamp, get_db, isoformat, utcnow
from ..identity import Role
from ..intake import IntakeUnavailable, get_intake
from ..metrics import get_metrics
from ..outcomes import Rejection
from ..policy import PolicyRefusal
from ..roll_binding import RollTaken, bind
from ..throttle import parse_rate, retry_after
from ..wakeup import notify_grading
from .access import ANY_MEMBER, NAME, authorize, visible_submission
from .uploads import is_raw_archive, read_upload, reject

bp = Blueprint("submissions", __name__)
log = logging.getLogger(__name__)


@bp.post("/api/courses/<course>/assignments/<assignment>/submissions")
def submit(course, assignment):
    """Store a submission durably, then answer 202 (see intake.py for the group commit)."""
    identity, _ = authorize(course, Role.STUDENT)
    intake = get_intake()
    policy = intake.policy(course, assignment) if NAME.match(assignment) else None
    if policy is None:
        abort(404, f"assignment {assignment} of course {course} has not been released")
    check_claimed_identity(identity)
    if not identity.roll_number:
        abort(403, "your account has no roll number from the university login; log out and "
                   "log in again, or ask the course staff")
    check_rate(course, identity.username)
    try:
        bind(get_db(), course, identity.roll_number, identity.username, utcnow())
    except RollTaken as err:
        reject(403, Rejection.ROLL_TAKEN, str(err))
    data, _names = read_upload("submission", student=True)
    values = {"id": uuid.uuid4().hex, "course": course, "assignment": assignment,
              "username": identity.username, "roll_number": identity.roll_number,
              "sha256": get_blobs().put(data), "size": len(data), "submitted_at": utcnow()}
    try:
        decision = intake.accept(values, policy)
    except PolicyRefusal as err:
        reject(409, Rejection.POLICY, str(err))
    except IntakeUnavailable as err:
        abort(503, str(err))
    get_metrics().submissions_accepted.inc()
    log.info("submission accepted", extra={"submission_id": values["id"], "course": course,
                                           "assignment": assignment, "late": decision.late})
    notify_grading()
    body = {"submission_id": values["id"], "timestamp": isoformat(values["submitted_at"]),
            "sha256": values["sha256"], "status": Status.QUEUED.value, "late": decision.late,
            "attempt": decision.attempt}
    return jsonify(body), 202


def check_claimed_identity(identity):
    """Reject a request that claims someone else's student id or roll number (form fields
    of a multipart submit, ``X-Student-Id`` / ``X-Roll-Number`` headers of a raw one)."""
    if is_raw_archive():
        claimed_id = request.headers.get("X-Student-Id")
        claimed_roll = request.headers.get("X-Roll-Number")
    else:
        claimed_id = request.form.get("student_id")
        claimed_roll = request.form.get("roll_number")
    if claimed_id and claimed_id != identity.username:
        reject(403, Rejection.IDENTITY, f"student_id {claimed_id!r} does not match the "
                                        f"authenticated user {identity.username!r}")
    if claimed_roll and claimed_roll != identity.roll_number:
        reject(403, Rejection.IDENTITY,
               f"roll_number {claimed_roll!r} does not match the roll number from your login; "
               "submissions are recorded under the authenticated roll number only")


def check_rate(course, username):
    """429 with ``Retry-After`` when the student is over ``GRADER_SUBMIT_RATE`` (throttle.py)."""
    rate = parse_rate(current_app.config["SUBMIT_RATE"])
    wait = retry_after(get_db(), course, username, utcnow(), rate)
    if wait is not None:
        get_metrics().submissions_rejected.labels(reason=Rejection.RATE).inc()
        raise TooManyRequests(f"too many submissions: at most {rate[0]} per {rate[1]:g} s; "
                              f"try again in {wait} s (your latest one is queued or graded)",
                              retry_after=wait)


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
    notify_grading()
    return jsonify({"submission_id": row.id, "status": Status.QUEUED.value}), 202


@bp.get("/api/submissions/<submission_id>/stamps")
def stamp_history(submission_id):
    """The current stamp and every earlier one a regrade replaced (instructor), oldest
    first, each with when and by what it was superseded."""
    _, row = visible_submission(submission_id, instructor_only=True)
    earlier = get_db().scalars(select(SupersededStamp)
                               .where(SupersededStamp.submission_id == row.id)
                               .order_by(SupersededStamp.superseded_at, SupersededStamp.id))
    return jsonify({"submission_id": row.id, "status": row.status,
                    "graded_at": isoformat(row.graded_at), "current": row.stamp,
                    "superseded": [stamp.to_json() for stamp in earlier]})
