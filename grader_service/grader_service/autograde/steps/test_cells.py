"""Run a notebook without a course rubric: student cells in the student's process,
nbgrader test cells in the checker (see :mod:`..remote`).

Cells run in notebook order. A code cell of the student's goes to the student host
with the per-cell time limit; a test cell runs here, in the checker, against the
student's current values. A test passes when its code finishes without an exception;
the message is written here: for a failing hidden line only "a hidden test failed",
never text the student's code produced. If the student's process dies (time limit,
memory, ``os._exit``), a fresh one replays the cells that had run and grading goes
on; a notebook whose cells cannot be replayed scores 0 on the remaining tests, with
the reason.
"""

import sys
import traceback

from dlcourse.grading.isolation import StudentHost

from ..cells import BEGIN_HIDDEN, END_HIDDEN, grade_id, is_test_cell
from ..remote import Budget, StudentCodeError, TestNamespace, instructor_imports
from .base import Step

MAX_MESSAGE = 500
HIDDEN_FAILED = "a hidden test failed"


def hidden_line_numbers(source):
    """(source with the marker lines blanked, the 1-based numbers of hidden lines)."""
    lines, hidden, inside = source.splitlines(), set(), False
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker in (BEGIN_HIDDEN, END_HIDDEN):
            inside = marker == BEGIN_HIDDEN
            lines[number - 1] = ""
        elif inside:
            hidden.add(number)
    return "\n".join(lines), hidden


def _test_lines(tb, filename):
    """The lines of the test cell the traceback went through."""
    return {lineno for frame, lineno in traceback.walk_tb(tb)
            if frame.f_code.co_filename == filename}


def verdict(exc, filename, hidden):
    """The message for a test cell that raised ``exc`` (written by the checker): only
    "a hidden test failed" when the failure passed through a hidden line."""
    if _test_lines(exc.__traceback__, filename) & hidden:
        return HIDDEN_FAILED
    if isinstance(exc, StudentCodeError):
        text = f"your code failed: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return text[:MAX_MESSAGE]


def run_test_cell(namespace, cell, cell_timeout):
    """(passed, message) for one official test cell, decided in this process."""
    filename = f"<test {grade_id(cell)}>"
    source, hidden = hidden_line_numbers(cell.source)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as err:
        return False, f"the test cell cannot be compiled: {err.msg}"
    budget = Budget(cell_timeout)
    problem = namespace.refresh(code, budget)
    if problem:
        return False, f"not run: {problem}"[:MAX_MESSAGE]
    try:
        exec(code, namespace.globals)
    except Exception as exc:  # noqa: BLE001 - any failure of the test is a failed test
        return False, verdict(exc, filename, hidden)
    return True, "passed"


class RunTestCells(Step):
    """Score the notebook's official test cells (notebooks without a course rubric)."""

    def __call__(self, job):
        if job.rubric is not None:
            return
        results = {t.grade_id: t for t in job.tests}
        host = StudentHost([], env={"ROLL_NUMBER": job.roll_number} if job.roll_number else {},
                           setup_timeout=max(job.cell_timeout, 60.0), files=job.files,
                           identity=job.identity)
        with host:
            namespace = TestNamespace(host, instructor_imports(job.instructor_cells),
                                      job.roll_number)
            for index, cell in enumerate(job.nb.cells):
                if cell.cell_type != "code":
                    continue
                if is_test_cell(cell):
                    test = results.get(grade_id(cell))
                    if test is not None:
                        test.passed, test.message = run_test_cell(namespace, cell,
                                                                  job.cell_timeout)
                        test.points = test.max_points if test.passed else 0.0
                    continue
                ran = host.exec_cell(cell.source, timeout=job.cell_timeout)
                if ran.ok and ran.value is None:
                    host.cells.append(cell.source)  # replayed if the process dies later
                elif not ran.ok and "could not start" in ran.error:
                    job.problem = ran.error
                    break
                else:
                    print(f"cell {index}: {ran.error or ran.value}"[:MAX_MESSAGE], file=sys.stderr)
