"""Feedback: instructor-released files (nbgrader release/fetch_feedback) and the automatic report."""

from flask import Blueprint, Response, abort, send_file

from ..blobs import get_blobs
from ..db import get_db
from ..feedback_html import render_report
from .access import visible_submission
from .uploads import read_upload

bp = Blueprint("feedback", __name__)

FEEDBACK = "/api/submissions/<submission_id>/feedback"


@bp.put(FEEDBACK)
def release_feedback(submission_id):
    """Store a tar of feedback files (HTML) for one submission; a re-release replaces it."""
    _, row = visible_submission(submission_id, instructor_only=True)
    data, names = read_upload("feedback")
    if not names:
        abort(400, "feedback archive is empty")
    row.feedback_sha256 = get_blobs().put(data)
    get_db().commit()
    return {"submission_id": row.id, "feedback_sha256": row.feedback_sha256, "files": names}


@bp.get(FEEDBACK)
def fetch_feedback(submission_id):
    _, row = visible_submission(submission_id)
    if row.feedback_sha256 is None:
        abort(404, f"no feedback has been released for submission {row.id}")
    return send_file(get_blobs().path(row.feedback_sha256), mimetype="application/gzip",
                     as_attachment=True, download_name=f"feedback-{row.id}.tar.gz")


@bp.get("/api/submissions/<submission_id>/report")
def report(submission_id):
    """The automatic per-submission HTML report (never shows hidden test code)."""
    _, row = visible_submission(submission_id)
    return Response(render_report(row), mimetype="text/html")
