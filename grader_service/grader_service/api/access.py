"""Who may do what: course roles from hub groups, and lookups that 404 for outsiders."""

import re

from flask import abort

from ..auth import current_identity
from ..db import Assignment, Submission, get_db
from ..identity import Identity, Role

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ANY_MEMBER = (Role.INSTRUCTOR, Role.STUDENT)


def authorize(course, *roles) -> tuple[Identity, Role]:
    """Identify the caller and require one of ``roles`` in ``course`` (401/403/404)."""
    if not NAME.match(course):
        abort(404, f"no such course: {course!r}")
    identity = current_identity()
    role = identity.role_in(course)
    if role not in roles:
        wanted = " or ".join(r.value for r in roles)
        abort(403, f"{identity.username} is not {wanted} in course {course}")
    return identity, role


def get_assignment(course, name) -> Assignment:
    """The released assignment or 404."""
    if not NAME.match(name):
        abort(404, f"no such assignment: {name!r}")
    assignment = get_db().get(Assignment, (course, name))
    if assignment is None:
        abort(404, f"assignment {name} of course {course} has not been released")
    return assignment


def visible_submission(submission_id, instructor_only=False) -> tuple[Identity, Submission]:
    """The submission if the caller owns it (unless ``instructor_only``) or teaches its
    course; otherwise 404, so outsiders cannot even learn that the id exists."""
    identity = current_identity()
    row = get_db().get(Submission, submission_id)
    if row is not None:
        role = identity.role_in(row.course)
        owner = row.username == identity.username and role is Role.STUDENT
        if role is Role.INSTRUCTOR or (owner and not instructor_only):
            return identity, row
        if owner:
            abort(403, f"{identity.username} is not instructor in course {row.course}")
    abort(404, f"no submission {submission_id} visible to {identity.username}")
