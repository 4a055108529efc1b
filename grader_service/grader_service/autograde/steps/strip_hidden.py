"""Remove nbgrader's hidden-test marker lines (the tests between them stay)."""

from ..cells import BEGIN_HIDDEN, END_HIDDEN, is_test_cell
from .base import Step


class StripHiddenTestMarkers(Step):
    markers = (BEGIN_HIDDEN, END_HIDDEN)

    def __call__(self, job):
        for cell in job.nb.cells:
            if is_test_cell(cell):
                lines = cell.source.splitlines()
                cell.source = "\n".join(line for line in lines if line.strip() not in self.markers)
