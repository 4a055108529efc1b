"""Single-purpose grading steps; :data:`DEFAULT_STEPS` is the order the pipeline runs them in.

Each step is a callable class: ``step(job)`` mutates a :class:`~..job.NotebookJob` and
stops nothing by itself; once ``job.problem`` is set, later steps that need a
gradable notebook skip it. Which tests a notebook has is fixed by the instructor's
source when it is loaded: the course rubric's items where the assignment has one,
else its nbgrader test cells; nothing the student's code does changes that.
"""

from .base import Step
from .load import LoadNotebooks
from .overwrite_tests import OverwriteTestCells
from .redact import RedactHiddenText
from .rubric import RubricChecker
from .test_cells import RunTestCells
from .unrun import ExplainUnrunTests

DEFAULT_STEPS = (
    LoadNotebooks,
    OverwriteTestCells,
    RunTestCells,
    RubricChecker,
    ExplainUnrunTests,
    RedactHiddenText,
)

__all__ = [
    "DEFAULT_STEPS", "Step", "LoadNotebooks", "OverwriteTestCells", "RunTestCells",
    "RubricChecker", "ExplainUnrunTests", "RedactHiddenText",
]
