"""Manual grades: an instructor's points for the manual items of a graded record, and
the final record they make (automatic + manual points), re-signed.

A graded record lists every manual item (a rubric item marked ``manual``) with 0
points; the LMS holds its score as ``PendingManual`` (see :func:`is_pending`). An
instructor grades each item (``PUT /api/submissions/<id>/manual/<notebook:grade_id>``,
stored in ``manual_grades`` with who and when). Once every manual item has a grade,
:func:`finalize` writes the final record: the manual items carry their points, comment,
``graded_by`` and ``graded_at``, the totals are recomputed, ``graded_at`` is the time of
finalising (``autograded_at`` keeps the sandbox's), and it is signed. The stamp it
replaces goes to ``superseded_stamps`` in the same transaction, and the exporters
deliver the new record (``FullyGraded``) as they deliver any new grade. A later change
of a manual grade re-signs again; a regrade applies the stored grades to the new
automatic result (:func:`with_manual`).
"""

import math

from sqlalchemy import select, update

from .db import ManualGrade, Status, Submission, SupersededStamp, as_utc, isoformat

MAX_COMMENT = 10_000
#: what an instructor's grade adds to a manual item of the record
GRADE_KEYS = ("points", "comment", "graded_by", "graded_at")


class InvalidGrade(ValueError):
    """Points or comment that a manual item cannot take (one-line reason)."""


def test_id(test):
    """``notebook:grade_id``, how the API names a record's test."""
    return f"{test['notebook']}:{test['grade_id']}"


def find_test(record, wanted):
    """The record's test named ``notebook:grade_id`` (or by a grade_id that only one
    notebook has), else None."""
    tests = (record or {}).get("tests", [])
    for test in tests:
        if test_id(test) == wanted:
            return test
    by_id = [test for test in tests if test["grade_id"] == wanted]
    return by_id[0] if len(by_id) == 1 else None


def manual_tests(record):
    return [test for test in (record or {}).get("tests", []) if test.get("manual")]


def is_pending(record):
    """True while a manual item of the record has no instructor's grade in it."""
    return any("graded_by" not in test for test in manual_tests(record))


def check_points(value, max_points) -> float:
    """``value`` as float if it is a finite number in ``0..max_points``, else InvalidGrade."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGrade(f"points must be a number, not {value!r:.40}")
    try:
        points = float(value)
    except OverflowError as err:
        raise InvalidGrade("points must be finite") from err
    if not math.isfinite(points):
        raise InvalidGrade("points must be finite")
    if not 0 <= points <= max_points:
        raise InvalidGrade(f"points must be between 0 and {max_points:g}, not {points:g}")
    return points


def check_comment(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise InvalidGrade(f"comment must be a string of at most {MAX_COMMENT} characters")
    return value


def stored_grades(session, submission_id) -> dict:
    """``{(notebook, grade_id): ManualGrade}`` of a submission."""
    rows = session.scalars(select(ManualGrade).where(ManualGrade.submission_id == submission_id))
    return {(row.notebook, row.grade_id): row for row in rows}


def with_manual(record, grades, now):
    """The record with every manual item graded from ``grades`` and the totals
    recomputed, graded at ``now``; None while an item has no grade (or one above the
    item's maximum, e.g. after the source changed)."""
    tests = []
    for test in record["tests"]:
        if test.get("manual"):
            grade = grades.get((test["notebook"], test["grade_id"]))
            if grade is None or not 0 <= grade.points <= test["max_points"]:
                return None
            test = {**test, "points": grade.points, "comment": grade.comment,
                    "graded_by": grade.graded_by, "graded_at": isoformat(grade.graded_at)}
        tests.append(test)
    notebooks = {name: {**entry, "score": sum(t["points"] for t in tests
                                               if t["notebook"] == name)}
                 for name, entry in record.get("notebooks", {}).items()}
    return {**record, "tests": tests, "notebooks": notebooks,
            "score": sum(t["points"] for t in tests),
            "autograded_at": record.get("autograded_at", record["graded_at"]),
            "graded_at": isoformat(now)}


def _manual_part(record):
    return [{key: test.get(key) for key in GRADE_KEYS} for test in manual_tests(record)]


def finalize(session, submission_id, signer, now, attempts=3):
    """Re-sign the submission's record with its manual grades once all are in; return the
    new record, or None (not graded, an item still ungraded, or nothing changed).

    The replaced stamp is kept in ``superseded_stamps``; the write is guarded by the
    row's ``graded_at`` so a concurrent grade or regrade makes this try again on the
    fresh row instead of overwriting it.
    """
    for _ in range(attempts):
        row = session.get(Submission, submission_id, populate_existing=True)
        if row is None or row.status != Status.GRADED or not row.result:
            return None
        record = with_manual(row.result, stored_grades(session, submission_id), now)
        if record is None or _manual_part(record) == _manual_part(row.result):
            return None
        if row.stamp is not None:
            session.add(SupersededStamp(
                submission_id=submission_id, graded_at=row.graded_at, stamp=row.stamp,
                superseded_at=now, superseded_by_status=Status.GRADED.value,
                superseded_by_score=record["score"], superseded_by_max_score=record["max_score"]))
        written = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == Status.GRADED,
                   Submission.graded_at == as_utc(row.graded_at))
            .values(result=record, stamp=signer.sign(record), graded_at=now, exported_at=None)
            .execution_options(synchronize_session=False))
        if written.rowcount == 1:
            session.commit()
            return record
        session.rollback()
    return None
