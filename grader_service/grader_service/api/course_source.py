"""The course's shipped nbgrader source tree (solutions, hidden tests), for instructors.

The single-user image holds only the release versions; an instructor's server seeds
``~/<course>/source/`` from here (``dl-grader fetch-source``). Students never get it.
"""

import os

from flask import Blueprint, Response, abort, current_app

from ..identity import Role
from ..tarsafe import ArchiveTooLarge, pack_directory
from .access import authorize

bp = Blueprint("course_source", __name__)

#: never shipped: checkpoints, caches, dot files, a solution run's submission file
EXCLUDE = (".*", "__pycache__", "*.pyc", "submission_*.json")


@bp.get("/api/courses/<course>/course-source")
def course_source(course):
    """tar.gz of ``GRADER_COURSE_SOURCE_DIR`` (``<assignment>/<file>`` names)."""
    authorize(course, Role.INSTRUCTOR)
    root = current_app.config["COURSE_SOURCE_DIR"]
    if not root:
        abort(404, "this grading service ships no course source (GRADER_COURSE_SOURCE_DIR "
                   "is not set): put source/<assignment>/ into the course directory yourself")
    if not os.path.isdir(root):
        abort(404, f"the course source {root} (GRADER_COURSE_SOURCE_DIR) is missing on the "
                   f"grading service")
    try:
        data = pack_directory(root, exclude=EXCLUDE,
                              max_bytes=current_app.config["MAX_UNPACKED_BYTES"])
    except ArchiveTooLarge as err:
        abort(500, f"the course source is too large to send ({err}); see "
                   f"GRADER_MAX_UNPACKED_BYTES")
    return Response(data, mimetype="application/gzip", headers={
        "Content-Disposition": f"attachment; filename={course}-source.tar.gz"})
