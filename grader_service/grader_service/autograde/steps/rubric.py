"""Score with the course's process-isolated rubric checker where the assignment has one.

For the course's graded labs (``dlcourse.grading``), the points come from the rubric,
never from nbgrader test cells, whatever happens to the student's code: the checker
runs the student's code in a child process under the student's uid, calls their
functions with fresh inputs and compares plain arrays in its own process, so
monkeypatching NumPy or the test helpers inside the notebook cannot fake a pass, and
a notebook that kills its own process only loses the items it could not answer.
Manually graded rubric items are listed with 0 points and ``manual: true`` until an
instructor grades them.
"""

from ..job import TestResult
from .base import Step

MAX_MESSAGE = 500


class RubricChecker(Step):
    """Replace the rubric items' placeholder results by the rubric checker's."""

    def __call__(self, job):
        if job.rubric is None:
            return
        from dlcourse.grading import grade_notebook

        graded = grade_notebook(job.submission_path, job.assignment, job.roll_number,
                                files=job.files, identity=job.identity)
        job.tests = [
            TestResult(job.name, f"rubric:{item['id']}", float(item["max_points"]),
                       points=float(item["points"]), passed=bool(item["passed"]),
                       message=str(item["message"])[:MAX_MESSAGE], manual=bool(item["manual"]))
            for item in graded["items"]
        ]
        job.metrics = dict(graded.get("metrics") or {})
        if graded.get("setup") not in (None, "ok"):
            job.problem = f"the notebook's code could not run: {graded['setup']}"[:MAX_MESSAGE]
