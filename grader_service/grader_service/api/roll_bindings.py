"""Which account holds each roll number of a course (instructor), and releasing a
binding made by mistake (see roll_binding.py)."""

import logging

from flask import Blueprint, abort, jsonify
from sqlalchemy import select

from ..db import RollBinding, get_db
from ..identity import Role
from .access import authorize

bp = Blueprint("roll_bindings", __name__)
log = logging.getLogger(__name__)


@bp.get("/api/courses/<course>/roll-bindings")
def list_bindings(course):
    authorize(course, Role.INSTRUCTOR)
    rows = get_db().scalars(select(RollBinding).where(RollBinding.course == course)
                            .order_by(RollBinding.roll_number))
    return jsonify([row.to_json() for row in rows])


@bp.delete("/api/courses/<course>/roll-bindings/<roll_number>")
def release_binding(course, roll_number):
    """Free a roll number: the next account that submits with it holds it. Submissions
    already made keep the account and roll number they were made with."""
    identity, _ = authorize(course, Role.INSTRUCTOR)
    db = get_db()
    row = db.get(RollBinding, (course, roll_number))
    if row is None:
        abort(404, f"roll number {roll_number} is not bound in course {course}")
    released = row.to_json()
    db.delete(row)
    db.commit()
    log.info("roll binding released", extra={"course": course, "roll_number": roll_number,
                                             "username": released["username"],
                                             "released_by": identity.username})
    return jsonify({**released, "released_by": identity.username})
