"""Score test cells: full points iff the cell ran without an error."""

from ..cells import grade_id, is_test_cell
from .base import Step

MAX_MESSAGE = 500


class ScoreTestCells(Step):
    needs_gradable = False  # also turns job.problem into a message on every test

    def __call__(self, job):
        executed = {grade_id(c): c for c in job.nb.cells if is_test_cell(c)} if job.nb else {}
        for test in job.tests:
            cell = executed.get(test.grade_id)
            test.passed, test.message = _verdict(cell, job.problem)
            test.points = test.max_points if test.passed else 0.0


def _verdict(cell, problem):
    if cell is None or cell.get("execution_count") is None:
        return False, f"not run: {problem}" if problem else "not run"
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if not errors:
        return True, "passed"
    error = errors[0]
    text = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}".strip().rstrip(":")
    return False, text[:MAX_MESSAGE]
