"""Manual grades of a graded submission (instructor): list them, grade one item.

``PUT /api/submissions/<id>/manual/<notebook:grade_id>`` with ``{"points", "comment"}``
stores the instructor's grade (who and when); once every manual item is graded the
record is re-signed and exported as the final grade (see :mod:`..manual`).
"""

import logging

from flask import Blueprint, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from .. import manual
from ..db import ManualGrade, Status, Submission, get_db, isoformat, utcnow
from ..stamp import get_signer
from ..wakeup import notify_grading
from .access import visible_submission

bp = Blueprint("manual", __name__)
log = logging.getLogger(__name__)


def _items(row, grades):
    """Every manual item of the row's record with its stored grade (or None)."""
    items = []
    for test in manual.manual_tests(row.result):
        grade = grades.get((test["notebook"], test["grade_id"]))
        items.append({"test_id": manual.test_id(test), "notebook": test["notebook"],
                      "grade_id": test["grade_id"], "max_points": test["max_points"],
                      "grade": grade.to_json() if grade is not None else None})
    return items


def _summary(row, grades):
    record = row.result or {}
    items = _items(row, grades) if row.status == Status.GRADED else []
    return {"submission_id": row.id, "status": row.status, "username": row.username,
            "assignment": row.assignment, "graded_at": isoformat(row.graded_at),
            "score": record.get("score"), "max_score": record.get("max_score"),
            "pending_manual": manual.is_pending(record), "items": items}


@bp.get("/api/submissions/<submission_id>/manual")
def list_manual_grades(submission_id):
    """The submission's manual items, each with the instructor's grade if it has one."""
    _, row = visible_submission(submission_id, instructor_only=True)
    return jsonify(_summary(row, manual.stored_grades(get_db(), row.id)))


@bp.put("/api/submissions/<submission_id>/manual/<path:test_id>")
def grade_manual_item(submission_id, test_id):
    """Set the points (``0..max_points``) and comment of one manual item."""
    identity, row = visible_submission(submission_id, instructor_only=True)
    if row.status != Status.GRADED:
        abort(409, f"submission {row.id} is {row.status}; only a graded one takes manual grades")
    test = manual.find_test(row.result, test_id)
    if test is None:
        abort(404, f"submission {row.id} has no test {test_id!r}")
    if not test.get("manual"):
        abort(400, f"{manual.test_id(test)} is graded automatically; only manual items take "
                   "an instructor's points")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "points" not in body:
        abort(400, 'expected a JSON object {"points": number, "comment": string}')
    try:
        points = manual.check_points(body["points"], test["max_points"])
        comment = manual.check_comment(body.get("comment"))
    except manual.InvalidGrade as err:
        abort(400, str(err))
    db = get_db()
    key = (row.id, test["notebook"], test["grade_id"])
    grade = db.get(ManualGrade, key)
    changed = grade is None or (grade.points, grade.comment) != (points, comment)
    if changed:
        if grade is None:
            grade = ManualGrade(submission_id=row.id, notebook=test["notebook"],
                                grade_id=test["grade_id"])
            db.add(grade)
        grade.points, grade.comment = points, comment
        grade.graded_by, grade.graded_at = identity.username, utcnow()
        try:
            db.commit()
        except IntegrityError:  # another instructor graded it at the same moment
            db.rollback()
            abort(409, f"{manual.test_id(test)} was graded concurrently; try again")
        log.info("manual grade set", extra={"submission_id": row.id, "test": test_id,
                                            "graded_by": identity.username})
    final = manual.finalize(db, row.id, get_signer(), utcnow())
    if final is not None:
        log.info("final grade signed", extra={"submission_id": row.id, "score": final["score"]})
        notify_grading()  # the grading process exports it
    row = db.get(Submission, row.id, populate_existing=True)
    grades = manual.stored_grades(db, row.id)
    return jsonify({**_summary(row, grades), "changed": changed,
                    "re_signed": final is not None,
                    "item": next((i for i in _items(row, grades)
                                  if i["test_id"] == manual.test_id(test)), None)})
