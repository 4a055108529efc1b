"""The course gradebook as CSV, built from the graded records."""

import csv
import io

from flask import Blueprint, Response
from sqlalchemy import select

from ..db import Status, Submission, get_db
from ..exporters.csv_gradebook import GRADEBOOK_COLUMNS, gradebook_row
from ..identity import Role
from .access import authorize

bp = Blueprint("gradebook", __name__)


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
