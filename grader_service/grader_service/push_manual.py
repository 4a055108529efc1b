"""The formgrader's manual grades, sent to the grading service (the one gradebook).

An instructor grades manual items in nbgrader's formgrader, which writes them to the
course's nbgrader gradebook. :func:`push_manual` reads those grades and sends each one
to the student's latest graded submission of the assignment
(``PUT /api/submissions/<id>/manual/<notebook:grade_id>``); once every manual item of a
submission has a grade, the service signs the final record and the exporters send it
to the LMS. ``dl-grader push-manual`` runs it, and so does Release Feedback (see
``exchange/release_feedback.py``), so the feedback students read and the service agree.

A formgrader cell maps to a service item by ``formgrader_key``: the notebook's name
without ``.ipynb`` and the grade_id (a rubric item's without its ``rubric:`` prefix).
"""

import dataclasses
import os

from .client import ApiError
from .pull_results import latest_graded

COUNTS = ("changed", "unchanged", "ungraded", "final", "failed")


class PushError(RuntimeError):
    """The gradebook cannot be read for this assignment (one-line reason)."""


@dataclasses.dataclass
class PushReport:
    """What a push did: one line per change or final grade, errors, and counts."""

    lines: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    counts: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    def summary(self):
        c = self.counts
        return (f"{c['changed']} changed, {c['unchanged']} unchanged, {c['ungraded']} not "
                f"graded in the formgrader, {c['final']} final grade(s) signed, "
                f"{c['failed']} failed")


def formgrader_grades(db_url, assignment):
    """The manual grades an instructor set in nbgrader's formgrader:
    ``{student: {(notebook name, cell name): (points, comment)}}`` (cells without a
    manual score are left out)."""
    from nbgrader.api import Gradebook, MissingEntry

    gradebook = Gradebook(db_url)
    try:
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise PushError(f"the gradebook {db_url} has no assignment {assignment!r}") from None
        grades = {}
        for submission in found.submissions:
            for notebook in submission.notebooks:
                comments = {c.name: c.manual_comment for c in notebook.comments}
                for grade in notebook.grades:
                    if grade.manual_score is not None:
                        grades.setdefault(submission.student.id, {})[
                            (notebook.name, grade.name)] = (float(grade.manual_score),
                                                            comments.get(grade.name) or "")
        return grades
    finally:
        gradebook.close()


def formgrader_key(item):
    """Where the formgrader keeps a service item: (notebook name without ``.ipynb``,
    cell name = the grade_id, a rubric item's without its ``rubric:`` prefix)."""
    notebook = os.path.basename(item["notebook"])
    notebook = notebook[:-len(".ipynb")] if notebook.endswith(".ipynb") else notebook
    grade_id = item["grade_id"]
    return notebook, grade_id[len("rubric:"):] if grade_id.startswith("rubric:") else grade_id


def _points(value):
    return "-" if value is None else f"{value:g}"


def push_manual(client, course, assignment, db_url, students=None):
    """Send the gradebook's manual grades of ``assignment`` (for ``students``, default
    all) to the service; returns a :class:`PushReport`. An item the service refuses is
    counted as failed and reported; the others still go. A graded student without
    any manual grade in the gradebook is reported if the service still waits for one."""
    grades = formgrader_grades(db_url, assignment)
    latest = latest_graded(client.submissions(course, assignment))
    wanted = set(grades) | set(latest) if students is None else set(students)
    report = PushReport()
    for student in sorted(wanted):
        if student not in latest:
            if student in grades:
                report.lines.append(f"{student}: no graded submission of {assignment} in "
                                    "the service; skipped")
            continue
        _push_student(client, student, latest[student]["submission_id"],
                      grades.get(student, {}), report)
    return report


def _push_student(client, student, sid, grades, report):
    summary = client.manual_grades(sid)
    final, sent = None, False
    for item in summary["items"]:
        given = grades.get(formgrader_key(item))
        if given is None:
            report.counts["ungraded"] += 1
            continue
        points, comment = given
        before = (item["grade"] or {}).get("points")
        try:
            reply = client.grade_manual(sid, item["test_id"], points, comment)
        except ApiError as err:
            report.counts["failed"] += 1
            report.errors.append(f"{student} {item['test_id']}: {err}")
            continue
        sent = True
        if reply["changed"]:
            report.counts["changed"] += 1
            report.lines.append(f"{student} {item['test_id']}: {_points(before)} -> "
                                f"{points:g}/{item['max_points']:g}"
                                + ("  (comment)" if comment else ""))
        else:
            report.counts["unchanged"] += 1
        if reply["re_signed"]:
            final = reply
    if final is not None:
        report.counts["final"] += 1
        report.lines.append(f"{student}: final grade {final['score']:g}/{final['max_score']:g} "
                            f"signed (submission {sid})")
    elif summary["items"] and (client.manual_grades(sid) if sent else summary)["pending_manual"]:
        report.lines.append(f"{student}: still pending manual grades (submission {sid})")
