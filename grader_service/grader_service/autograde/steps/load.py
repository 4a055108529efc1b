"""Read the instructor's source notebook and the student's notebook; list the tests."""

import os

import nbformat

from ..cells import grade_id, hidden_lines, is_test_cell, points
from ..job import TestResult
from .base import Step


class LoadNotebooks(Step):
    """Fill ``job.source``, ``job.tests``, ``job.hidden_text`` and ``job.student``.

    A missing or unreadable student notebook sets ``job.problem`` (the tests then score 0).
    """

    needs_gradable = False

    def __call__(self, job):
        job.source = nbformat.read(job.source_path, as_version=4)
        for cell in job.source.cells:
            if is_test_cell(cell) and grade_id(cell):
                job.tests.append(TestResult(job.name, grade_id(cell), points(cell)))
                job.hidden_text.extend(hidden_lines(cell.source))
        if not os.path.isfile(job.submission_path):
            job.problem = f"notebook {job.name} was not submitted"
            return
        try:
            job.student = nbformat.read(job.submission_path, as_version=4)
            nbformat.validate(job.student)
        except Exception as err:  # any parse/validation failure is the student's file
            job.student = None
            job.problem = f"notebook {job.name} could not be read ({type(err).__name__})"
