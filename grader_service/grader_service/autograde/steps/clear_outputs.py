"""Drop outputs and execution counts so only this run's results are scored."""

from .base import Step


class ClearOutputs(Step):
    def __call__(self, job):
        for cell in job.nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
