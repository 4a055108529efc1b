"""The grading service's results in the instructor's nbgrader course directory, as if
nbgrader's own autograde had run there, without executing any student code.

For each student's latest graded submission of an assignment, :func:`pull_results`
writes

* ``autograded/<student>/<assignment>/``: the files the student submitted, as the
  service stored them (``GET /api/submissions/<id>/files``), plus ``timestamp.txt`` and
  ``submission_id.txt``. Each notebook gets, at the top, a markdown cell with the
  service's verdict on every item of that notebook (points, passed/failed, the checker's
  message), and each grade cell the service reports on gets its verdict as the cell's
  output. Nothing is executed: notebooks are read and written as JSON. Hidden tests are
  never restored (nbgrader's autograde would copy them back from the gradebook; the
  service never reveals hidden test code);
* the gradebook (``nbgrader.api.Gradebook``): the student, the submission (with the
  service's timestamp) and one grade row per grade cell.

How a service item maps to a grade cell (``MAPPING`` in the README): a grade cell named
``<id>`` in notebook ``<nb>`` takes the service's test ``<nb>.ipynb:<id>`` or
``<nb>.ipynb:rubric:<id>``.

* an automatic test: ``auto_score`` = the service's points, not waiting for a manual
  grade. The formgrader shows it as autograded; an override there is not sent back
  (``push-manual`` sends manual items only);
* a manual item: no ``auto_score``, waiting for a manual grade, so the formgrader's
  *Manual Grading* lists it; a grade the service already holds (set through the API or
  an earlier ``push-manual``) fills an empty formgrader grade;
* a grade cell with no service item of its name (a rubric lab whose test cells are not
  named like its rubric items): an autograded cell gets no score (``auto_score``
  empty, counted as 0 by nbgrader) and its output says so; a manual cell stays waiting
  for a manual grade, which ``push-manual`` cannot send;
* a service item with no grade cell of its name (a rubric-only item): shown only in
  the summary cell at the top of the notebook (so in the formgrader's view and in the
  feedback), not in the formgrader's totals.

When every item maps to a cell (nbgrader test-cell notebooks always; rubric notebooks
whose grade cells are named like their items), the formgrader's total equals the
service's. Otherwise the service's total (shown in the summary cell) is the grade.

A second run with nothing new on the service changes nothing; every change is reported.
"""

import dataclasses
import os
import shutil
import tempfile

SUMMARY_KEY = "dlcourse_grading_service"
#: tag of the grading-guide cells put above hand-graded answers (instructors only: the
#: image's nbgrader config drops them from generated feedback, see feedback_filter.py)
GUIDE_TAG = "dlcourse-grading-guide"
MAX_UNPACKED = 500 * 1024 * 1024


class PullError(RuntimeError):
    """The course directory or gradebook cannot take the results (one-line reason)."""


@dataclasses.dataclass
class Report:
    """What a pull did: one line per change, and counts."""

    lines: list = dataclasses.field(default_factory=list)
    students: int = 0
    changed: int = 0
    not_graded: list = dataclasses.field(default_factory=list)

    def say(self, line):
        self.lines.append(line)


def latest_graded(rows):
    """``{username: row}``: each student's latest graded submission."""
    latest = {}
    for row in rows:
        if row["status"] == "graded" and (row["username"] not in latest or
                                          row["timestamp"] > latest[row["username"]]["timestamp"]):
            latest[row["username"]] = row
    return latest


def pull_results(client, course, assignment, coursedir, students=None, log=None):
    """Pull the latest graded result of every student (or of ``students``) of
    ``assignment`` into ``coursedir`` (an nbgrader ``CourseDirectory``); a :class:`Report`.

    ``client`` is a :class:`~grader_service.client.GraderClient` of an instructor.
    """
    from nbgrader.api import Gradebook, MissingEntry

    report = Report()
    rows = client.submissions(course, assignment)
    latest = latest_graded(r for r in rows if r["assignment"] == assignment)
    for username in sorted({r["username"] for r in rows} - set(latest)):
        if students is None or username in students:
            report.not_graded.append(username)
    with Gradebook(coursedir.db_url, course) as gradebook:
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise PullError(f"the gradebook has no assignment {assignment!r}: run "
                            f"`nbgrader generate_assignment {assignment}` in the course "
                            "directory first") from None
        cells = {nb.name: _cells(nb) for nb in found.notebooks}
        guides = _guides(client, course, assignment) if latest else {}
        for username in sorted(latest):
            if students is not None and username not in students:
                continue
            row = client.submission(latest[username]["submission_id"])
            report.students += 1
            before = report.changed
            _pull_one(client, gradebook, coursedir, assignment, row, cells, guides, report)
            if report.changed == before and log is not None:
                log(f"{username}: unchanged (submission {row['submission_id']})")
    return report


def _guides(client, course, assignment):
    """``{notebook name: {cell name: guide entry}}`` from the service (an older service
    without guides, or any refusal: none)."""
    from .client import ApiError

    try:
        entries = client.grading_guide(course, assignment)
    except ApiError:
        return {}
    found = {}
    for entry in entries:
        name = entry["grade_id"].removeprefix("rubric:")
        found.setdefault(_notebook_name(entry["notebook"]), {})[name] = entry
    return found


def _cells(notebook):
    """``{cell name: (kind, max_score)}`` of a gradebook notebook's grade and task cells:
    kind ``auto`` (an autograded test or answer cell) or ``manual``."""
    solution = {c.name for c in notebook.solution_cells}
    found = {}
    for cell in notebook.grade_cells:
        manual = cell.name in solution and cell.cell_type == "markdown"
        found[cell.name] = ("manual" if manual else "auto", cell.max_score)
    for cell in notebook.task_cells:
        found[cell.name] = ("manual", cell.max_score)
    return found


def service_tests(record, notebook):
    """``{cell name: test}`` of the record's tests for gradebook notebook ``notebook``
    (``rubric:<id>`` named ``<id>``), and the list of them all in record order."""
    tests = [t for t in record.get("tests", [])
             if _notebook_name(t["notebook"]) == notebook]
    by_name = {}
    for test in tests:
        gid = test["grade_id"]
        by_name[gid[len("rubric:"):] if gid.startswith("rubric:") else gid] = test
    return by_name, tests


def _notebook_name(path):
    name = os.path.basename(path)
    return name[:-len(".ipynb")] if name.endswith(".ipynb") else name


def _pull_one(client, gradebook, coursedir, assignment, row, cells, guides, report):
    student, record = row["username"], row["result"] or {}
    dest = coursedir.format_path(coursedir.autograded_directory, student, assignment)
    files = _submitted_files(client.submission_files(row["submission_id"]))
    for notebook, notebook_cells in cells.items():
        path = f"{notebook}.ipynb"
        if path not in files:
            report.say(f"{student} {assignment}: {path} was not submitted")
            continue
        files[path] = annotate(files[path], notebook, notebook_cells, record, row,
                               guides.get(notebook))
    files["timestamp.txt"] = row["timestamp"].encode()
    files["submission_id.txt"] = row["submission_id"].encode()
    if _write_tree(dest, files):
        report.changed += 1
        report.say(f"{student} {assignment}: wrote {os.path.relpath(dest, coursedir.root)} "
                   f"(submission {row['submission_id']}, {_pts(record.get('score'))}"
                   f"/{_pts(record.get('max_score'))} in the service)")
    changes = _gradebook_entries(gradebook, assignment, row, cells, record)
    if changes:
        report.changed += 1
        for change in changes:
            report.say(f"{student} {assignment}: {change}")


def _submitted_files(archive):
    """``{relative path: bytes}`` of a submission archive, unpacked with the service's
    safety checks (no links, no absolute or parent paths, a size limit)."""
    from .tarsafe import extract

    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "tree")
        extract(archive, root, MAX_UNPACKED)
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                full = os.path.join(dirpath, name)
                with open(full, "rb") as fh:
                    files[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return files


def annotate(content, notebook, notebook_cells, record, row, guides=None):
    """The submitted notebook (bytes) with the service's verdicts: a summary cell at the
    top, each grade cell's verdict as its output, and the grading guide of each
    hand-graded answer (``guides``: ``{cell name: entry}``) in a cell tagged
    ``GUIDE_TAG`` above it; nbgrader metadata of cells the gradebook does not know is
    dropped (so the formgrader and feedback do not fail on a cell a student made up).
    Deterministic: the same inputs give the same bytes."""
    import nbformat

    nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    by_name, tests = service_tests(record, notebook)
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get(SUMMARY_KEY)
                and GUIDE_TAG not in c.get("metadata", {}).get("tags", [])]
    _insert_guides(nb, guides or {})
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta:
            continue
        name = meta.get("grade_id")
        if (meta.get("grade") or meta.get("task")) and name not in notebook_cells:
            del cell.metadata["nbgrader"]
            continue
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        test = by_name.get(name)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                               text=_verdict(test) + "\n")]
        cell.execution_count = None
    summary = nbformat.v4.new_markdown_cell(_summary(notebook, tests, notebook_cells, record,
                                                     row))
    summary.metadata[SUMMARY_KEY] = True
    summary.pop("id", None)
    nb.cells.insert(0, summary)
    _stable_ids(nb)
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def _insert_guides(nb, guides):
    """A markdown cell tagged ``GUIDE_TAG`` above each answer cell named in ``guides``."""
    import nbformat

    cells = []
    for cell in nb.cells:
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if name in guides:
            entry = guides[name]
            guide = nbformat.v4.new_markdown_cell(
                f"**Grading guide: {_md(entry['item'])} ({_pts(entry['points'])} points; "
                f"instructors only, never in feedback)**\n\n{entry['guide']}")
            guide.metadata["tags"] = [GUIDE_TAG]
            guide.pop("id", None)
            cells.append(guide)
        cells.append(cell)
    nb.cells = cells


def _stable_ids(nb):
    """Cell ids derived from the position (nbformat would make random ones), so the
    same notebook is written as the same bytes."""
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        return
    seen = set()
    for index, cell in enumerate(nb.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"cell-{index}"
        seen.add(cell["id"])


def _verdict(test):
    if test is None:
        return ("Grading service: this cell is not one of the service's items; its points "
                "are not counted here (see the summary at the top of the notebook).")
    state = "passed" if test.get("passed") else "failed"
    message = f": {test['message']}" if test.get("message") else ""
    return (f"Grading service: {state}, {_pts(test['points'])}/{_pts(test['max_points'])} "
            f"point(s){message}")


def _summary(notebook, tests, notebook_cells, record, row):
    lines = [f"**Grading service** (submission `{row['submission_id']}` of roll number "
             f"`{_md(record.get('roll_number') or row.get('roll_number') or '-')}`, submitted "
             f"{row['timestamp']}{', late' if row.get('late') else ''}): automatic result "
             f"of `{notebook}.ipynb`, signed by the service. The formgrader does not run "
             "this notebook; the points below are the service's.", "",
             "| item | points | result | in the formgrader | message |",
             "|---|---|---|---|---|"]
    for test in tests:
        gid = test["grade_id"]
        name = gid[len("rubric:"):] if gid.startswith("rubric:") else gid
        if test.get("manual"):
            result = ("manual, graded by " + test["graded_by"]) if test.get("graded_by") \
                else "manual, to grade"
        else:
            result = "passed" if test.get("passed") else "failed"
        where = f"cell `{name}`" if name in notebook_cells else "not a cell: counted by the service only"
        lines.append(f"| `{gid}` | {_pts(test['points'])} / {_pts(test['max_points'])} | "
                     f"{result} | {where} | {_md(test.get('message') or '')} |")
    notebook_record = (record.get("notebooks") or {}).get(f"{notebook}.ipynb") or {}
    if notebook_record:
        lines += ["", f"Notebook total in the service: {_pts(notebook_record.get('score'))} / "
                      f"{_pts(notebook_record.get('max_score'))}"
                  + (f" ({_md(notebook_record['problem'])})" if notebook_record.get("problem")
                     else "")]
    return "\n".join(lines)


def _md(text):
    """Checker text safe in a markdown table cell (no HTML, no pipes, one line)."""
    from html import escape

    return escape(" ".join(str(text).split())).replace("|", "\\|")


def _pts(value):
    return "-" if value is None else f"{float(value):g}"


def _write_tree(dest, files):
    """Make ``dest`` hold exactly ``files``; False if it already did."""
    existing = {}
    if os.path.isdir(dest):
        for dirpath, _dirs, names in os.walk(dest):
            for name in names:
                full = os.path.join(dirpath, name)
                with open(full, "rb") as fh:
                    existing[os.path.relpath(full, dest).replace(os.sep, "/")] = fh.read()
        if existing == files:
            return False
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".pull-")
    try:
        for rel, data in files.items():
            target = os.path.join(staging, *rel.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.rename(staging, dest)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    return True


def _gradebook_entries(gradebook, assignment, row, cells, record):
    """Create or update the student, submission and grades; the changes, as text."""
    from nbgrader.api import MissingEntry
    from nbgrader.utils import parse_utc

    student = row["username"]
    changes = []
    try:
        gradebook.find_student(student)
    except MissingEntry:
        gradebook.add_student(student)
        changes.append("new student in the gradebook")
    timestamp = parse_utc(row["timestamp"])
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        submission = gradebook.add_submission(assignment, student, timestamp=row["timestamp"])
        changes.append("new submission in the gradebook")
    if _naive(submission.timestamp) != _naive(timestamp):
        submission.timestamp = timestamp
        changes.append(f"submission time {row['timestamp']}")
    for notebook, notebook_cells in cells.items():
        by_name, _tests = service_tests(record, notebook)
        for name, (kind, _max) in notebook_cells.items():
            grade = gradebook.find_grade(name, notebook, assignment, student)
            test = by_name.get(name)
            if test is not None and test.get("manual") and test.get("graded_by") \
                    and grade.manual_score is None:
                changes += _service_manual_grade(gradebook, grade, test, (name, notebook,
                                                                          assignment, student))
            for key, value in _wanted(kind, test, grade).items():
                if getattr(grade, key) != value:
                    setattr(grade, key, value)
                    changes.append(f"{notebook}/{name} {key} = {value!r}")
    gradebook.db.commit()
    return changes


def _service_manual_grade(gradebook, grade, test, where):
    """Fill an empty formgrader grade with the one the service holds for a manual item."""
    from nbgrader.api import MissingEntry

    grade.manual_score = float(test["points"])
    name, notebook = where[0], where[1]
    if test.get("comment"):
        try:
            comment = gradebook.find_comment(*where)
        except MissingEntry:
            comment = None
        if comment is not None and not comment.manual_comment:
            comment.manual_comment = test["comment"]
    return [f"{notebook}/{name} manual_score = {test['points']:g} (graded by "
            f"{test['graded_by']} in the service)"]


def _wanted(kind, test, grade):
    """The grade row's automatic fields for a cell of ``kind`` and its service test."""
    if test is not None and not test.get("manual"):
        return {"auto_score": float(test["points"]), "needs_manual_grade": False}
    if kind == "auto" and test is None:
        return {"auto_score": None, "needs_manual_grade": False}
    return {"auto_score": None, "needs_manual_grade": grade.manual_score is None}


def _naive(value):
    return None if value is None else value.replace(tzinfo=None)
