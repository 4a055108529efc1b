"""Put the instructor's test cells (with hidden tests) and locked cells into the
student's notebook."""

import copy

from ..cells import grade_id, is_locked_code_cell, is_test_cell
from .base import Step


class OverwriteTestCells(Step):
    """Build ``job.nb`` = the student's notebook with every test cell replaced, by
    ``grade_id``, by the instructor's cell (source and metadata). Student cells that
    pretend to be tests are demoted to plain cells; instructor tests the student
    deleted are appended at the end, so deleting a test never skips it. Locked
    instructor cells (setup, the roll-number configuration) are replaced the same way,
    so what the checker runs of them is the instructor's code, not an edited copy.
    """

    def __call__(self, job):
        official = {grade_id(c): c for c in job.source.cells if is_test_cell(c) and grade_id(c)}
        locked = {grade_id(c): c for c in job.source.cells
                  if is_locked_code_cell(c) and grade_id(c)}
        nb = copy.deepcopy(job.student)
        placed = set()
        for index, cell in enumerate(nb.cells):
            gid = grade_id(cell)
            if gid in official and gid not in placed:
                nb.cells[index] = copy.deepcopy(official[gid])
                placed.add(gid)
            elif gid in locked and gid not in placed and not is_test_cell(cell):
                nb.cells[index] = copy.deepcopy(locked[gid])
                placed.add(gid)
            elif is_test_cell(cell) or is_locked_code_cell(cell):
                cell.metadata.pop("nbgrader", None)  # not the instructor's: the student's
        nb.cells.extend(copy.deepcopy(c) for gid, c in official.items() if gid not in placed)
        job.nb = nb
