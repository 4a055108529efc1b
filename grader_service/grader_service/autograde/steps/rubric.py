"""Score with the course's process-isolated rubric checker where the assignment has one.

For the course's graded labs (``dlcourse.grading``: MLP, CNN, churn, framework), the
points come from the rubric, not from nbgrader test cells: the checker runs the
student's code in a child process, calls their functions with fresh inputs and
compares plain arrays in its own process, so monkeypatching NumPy or the test
helpers inside the notebook cannot fake a pass. The test-cell results this step
replaces were only advisory for such notebooks. Assignments without a rubric keep
their test-cell scores. Manually graded rubric items are listed with 0 points and
``manual: true`` until an instructor grades them.
"""

from pathlib import PurePath

from ..job import TestResult
from .base import Step


def find_rubric(assignment: str, notebook: str):
    """The course rubric for ``assignment``/``notebook``, or None (also when dlcourse is absent)."""
    try:
        from dlcourse.grading.rubrics import rubric_for
    except ImportError:
        return None
    try:
        return rubric_for(assignment, PurePath(notebook).stem)
    except KeyError:
        return None


class RubricChecker(Step):
    """Replace ``job.tests`` by the rubric's items when a rubric covers this notebook."""

    def __call__(self, job):
        if not job.assignment or find_rubric(job.assignment, job.name) is None:
            return
        from dlcourse.grading import grade_notebook

        graded = grade_notebook(job.submission_path, job.assignment, job.roll_number)
        job.tests = [
            TestResult(job.name, f"rubric:{item['id']}", float(item["max_points"]),
                       points=float(item["points"]), passed=bool(item["passed"]),
                       message=str(item["message"])[:500], manual=bool(item["manual"]))
            for item in graded["items"]
        ]
        if graded.get("setup") not in (None, "ok"):
            job.problem = f"the notebook's code could not run: {graded['setup']}"[:500]
