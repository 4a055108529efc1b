"""Read the instructor's source notebook and the student's notebook; list the tests."""

import os

import nbformat

from ..cells import grade_id, hidden_lines, is_solution_cell, is_test_cell, points
from ..job import TestResult
from .base import Step


def rubric_tests(notebook, items):
    """The rubric's items as tests worth 0 points until the rubric checker grades them."""
    return [TestResult(notebook, f"rubric:{item.id}", float(item.max_points),
                       manual=bool(item.manual)) for item in items]


class LoadNotebooks(Step):
    """Fill ``job.source``, ``job.rubric``, ``job.tests``, ``job.hidden_text``,
    ``job.instructor_cells`` and ``job.student``.

    The tests come from the source alone: the rubric's items where the assignment
    has a course rubric, else the nbgrader test cells. A missing or unreadable
    student notebook sets ``job.problem`` (the tests then score 0).
    """

    needs_gradable = False

    def __call__(self, job):
        job.source = nbformat.read(job.source_path, as_version=4)
        from dlcourse.grading.rubrics import notebook_rubric

        job.rubric = notebook_rubric(job.assignment, job.name)
        for cell in job.source.cells:
            if is_test_cell(cell) and grade_id(cell):
                job.tests.append(TestResult(job.name, grade_id(cell), points(cell)))
                job.hidden_text.extend(hidden_lines(cell.source))
            elif cell.cell_type == "code" and not is_solution_cell(cell):
                job.instructor_cells.append(cell.source)
        if job.rubric is not None:
            job.tests = rubric_tests(job.name, job.rubric[1])
        if not os.path.isfile(job.submission_path):
            job.problem = f"notebook {job.name} was not submitted"
            return
        try:
            job.student = nbformat.read(job.submission_path, as_version=4)
            nbformat.validate(job.student)
        except Exception as err:  # any parse/validation failure is the student's file
            job.student = None
            job.problem = f"notebook {job.name} could not be read ({type(err).__name__})"
