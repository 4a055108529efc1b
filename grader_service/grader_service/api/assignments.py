"""Assignments: release (with due date and resubmission policy), list, download, remove,
regrade, export the grades again."""

from flask import Blueprint, abort, jsonify, request, send_file
from sqlalchemy import select

from .. import queue
from ..blobs import get_blobs
from ..db import Assignment, Status, Submission, get_db, parse_timestamp, utcnow
from ..identity import Role
from ..intake import get_intake
from ..wakeup import notify_grading
from .access import ANY_MEMBER, NAME, authorize, get_assignment
from .uploads import read_upload

bp = Blueprint("assignments", __name__)

ASSIGNMENT = "/api/courses/<course>/assignments/<assignment>"


def policy_from_form(form):
    """``due_at`` (ISO 8601), ``allow_late`` (true/false), ``max_submissions`` (int) -> columns."""
    values = {"due_at": None, "allow_late": True, "max_submissions": None}
    try:
        if form.get("due_at"):
            values["due_at"] = parse_timestamp(form["due_at"])
        if form.get("allow_late"):
            values["allow_late"] = {"true": True, "false": False}[form["allow_late"].lower()]
        if form.get("max_submissions"):
            values["max_submissions"] = int(form["max_submissions"])
            if values["max_submissions"] < 1:
                raise ValueError("max_submissions must be at least 1")
    except (ValueError, KeyError) as err:
        abort(400, f"invalid release policy field: {err}")
    return values


@bp.post(ASSIGNMENT + "/release")
def release(course, assignment):
    identity, _ = authorize(course, Role.INSTRUCTOR)
    if not NAME.match(assignment):
        abort(400, f"invalid assignment name {assignment!r}")
    policy = policy_from_form(request.form)
    release_data, release_names = read_upload("release")
    source_data, source_names = read_upload("source")
    if not any(n.endswith(".ipynb") for n in source_names):
        abort(400, "source archive holds no notebook")
    blobs, db = get_blobs(), get_db()
    row = db.get(Assignment, (course, assignment)) or Assignment(course=course, name=assignment)
    row.release_sha256 = blobs.put(release_data)
    row.source_sha256 = blobs.put(source_data)
    row.notebooks = sorted(n for n in release_names if n.endswith(".ipynb"))
    row.released_by = identity.username
    row.released_at = utcnow()
    for key, value in policy.items():
        setattr(row, key, value)
    db.add(row)
    db.commit()
    get_intake().forget_policy(course, assignment)
    return jsonify(row.to_json()), 201


@bp.get("/api/courses/<course>/assignments")
def list_assignments(course):
    authorize(course, *ANY_MEMBER)
    rows = get_db().scalars(select(Assignment).where(Assignment.course == course)
                            .order_by(Assignment.name))
    return jsonify([row.to_json() for row in rows])


@bp.get(ASSIGNMENT + "/release")
def download_release(course, assignment):
    authorize(course, *ANY_MEMBER)
    row = get_assignment(course, assignment)
    return send_file(get_blobs().path(row.release_sha256), mimetype="application/gzip",
                     as_attachment=True, download_name=f"{assignment}.tar.gz")


@bp.delete(ASSIGNMENT)
def remove(course, assignment):
    """Withdraw a release (``nbgrader list --remove``); its submissions are kept."""
    authorize(course, Role.INSTRUCTOR)
    row = get_assignment(course, assignment)
    db = get_db()
    db.delete(row)
    db.commit()
    get_intake().forget_policy(course, assignment)
    return "", 204


@bp.post(ASSIGNMENT + "/regrade")
def regrade_assignment(course, assignment):
    """Queue every finished submission of the assignment again (not the superseded ones:
    a newer submission of the same student replaced them; regrade one by its id)."""
    authorize(course, Role.INSTRUCTOR)
    get_assignment(course, assignment)
    count = queue.requeue(get_db(), Submission.course == course,
                          Submission.assignment == assignment,
                          Submission.status != Status.SUPERSEDED)
    notify_grading()
    return jsonify({"requeued": count}), 202


@bp.post(ASSIGNMENT + "/export")
def export_assignment(course, assignment):
    """Send every student's latest grade to the exporters again (those that have it skip)."""
    authorize(course, Role.INSTRUCTOR)
    get_assignment(course, assignment)
    count = queue.export_again(get_db(), course, assignment)
    notify_grading()
    return jsonify({"exporting": count}), 202
