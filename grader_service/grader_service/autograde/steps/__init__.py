"""Single-purpose grading steps; :data:`DEFAULT_STEPS` is the order the pipeline runs them in.

Each step is a callable class: ``step(job)`` mutates a :class:`~..job.NotebookJob` and
stops nothing by itself; once ``job.problem`` is set, later steps that need a
gradable notebook skip it.
"""

from .base import Step
from .clear_outputs import ClearOutputs
from .execute import ExecuteNotebook
from .load import LoadNotebooks
from .overwrite_tests import OverwriteTestCells
from .redact import RedactHiddenText
from .rubric import RubricChecker
from .score import ScoreTestCells
from .strip_hidden import StripHiddenTestMarkers

DEFAULT_STEPS = (
    LoadNotebooks,
    OverwriteTestCells,
    StripHiddenTestMarkers,
    ClearOutputs,
    ExecuteNotebook,
    ScoreTestCells,
    RubricChecker,
    RedactHiddenText,
)

__all__ = [
    "DEFAULT_STEPS", "Step", "LoadNotebooks", "OverwriteTestCells", "StripHiddenTestMarkers",
    "ClearOutputs", "ExecuteNotebook", "ScoreTestCells", "RubricChecker", "RedactHiddenText",
]
