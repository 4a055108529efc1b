"""Run a notebook without a course rubric: student cells in the student's process,
nbgrader test cells in the checker (see :mod:`..remote`).

Cells run in notebook order. A code cell of the student's goes to the student host
with the per-cell time limit; a test cell runs here, in the checker, against the
student's current values; an instructor's locked cell runs in both (the student's
code needs what it defines, and the tests must compare with the checker's copy). A test passes when its code finishes without an exception;
the message is written here from the instructor's text (the failing line, its
literal assert message, the name of a built-in exception the student's code raised),
never text the student's code produced; for a failing hidden line only "a hidden test
failed". If the student's process dies (time limit,
memory, ``os._exit``), a fresh one replays the cells that had run and grading goes
on; a notebook whose cells cannot be replayed scores 0 on the remaining tests, with
the reason.
"""

import ast
import contextlib
import os
import sys
import traceback

from dlcourse.grading.isolation import StudentHost

from ..cells import BEGIN_HIDDEN, END_HIDDEN, grade_id, is_locked_code_cell, is_test_cell
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
    """The lines of the test cell the traceback went through, innermost last."""
    return [lineno for frame, lineno in traceback.walk_tb(tb)
            if frame.f_code.co_filename == filename]


def _assert_message(source, line):
    """The instructor's literal message of the ``assert`` on ``line``, if it has one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assert) and node.lineno == line
                and isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str)):
            return node.msg.value
    return None


def verdict(exc, filename, source, hidden):
    """The message for a test cell that raised ``exc``, written by the checker from the
    instructor's text only: the failing visible line and what went wrong (never text
    the student's code produced), or just "a hidden test failed"."""
    lines = _test_lines(exc.__traceback__, filename)
    if set(lines) & hidden:
        return HIDDEN_FAILED
    where = source.splitlines()[lines[-1] - 1].strip() if lines else ""
    if isinstance(exc, StudentCodeError):
        why = str(exc)
    elif isinstance(exc, AssertionError):
        why = _assert_message(source, lines[-1] if lines else 0) or "assertion failed"
    else:
        why = type(exc).__name__
    return (f"{why} in: {where}" if where else why)[:MAX_MESSAGE]


def run_test_cell(namespace, cell, cell_timeout):
    """(passed, message) for one official test cell, decided in this process."""
    filename = f"<test {grade_id(cell)}>"
    source, hidden = hidden_line_numbers(cell.source)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as err:
        return False, f"the test cell cannot be compiled: {err.msg}"
    try:
        namespace.run(code, Budget(cell_timeout))
    except Exception as exc:  # noqa: BLE001 - any failure of the test is a failed test
        return False, verdict(exc, filename, source, hidden)
    return True, "passed"


def run_locked_cell(namespace, cell, cell_timeout):
    """Run an instructor's locked cell in the checker too, so what tests compare with
    (``CONFIG`` from the authoritative roll number, reference helpers) is the checker's.
    Its failure is only logged: a test that needs what it defines fails by itself."""
    try:
        namespace.run(compile(cell.source, f"<locked {grade_id(cell)}>", "exec"),
                      Budget(cell_timeout))
    except Exception as exc:  # noqa: BLE001 - instructor code meeting the student's values
        print(f"locked cell {grade_id(cell)}: {type(exc).__name__}", file=sys.stderr)


class RunTestCells(Step):
    """Score the notebook's official test cells (notebooks without a course rubric)."""

    def __call__(self, job):
        if job.rubric is not None:
            return
        results = {t.grade_id: t for t in job.tests}
        host = StudentHost([], env={"ROLL_NUMBER": job.roll_number} if job.roll_number else {},
                           setup_timeout=max(job.cell_timeout, 60.0), files=job.files,
                           identity=job.identity)
        # the checker's side works in the instructor's folder (its data files)
        with host, contextlib.chdir(os.path.dirname(job.source_path)):
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
                if is_locked_code_cell(cell):
                    run_locked_cell(namespace, cell, job.cell_timeout)
                if ran.ok and ran.value is None:
                    host.cells.append(cell.source)  # replayed if the process dies later
                elif host.broken:
                    job.problem = host.broken[:MAX_MESSAGE]
                    break
                else:
                    print(f"cell {index}: {ran.error or ran.value}"[:MAX_MESSAGE], file=sys.stderr)
