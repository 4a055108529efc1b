"""Feedback never shows the grading guides: ``pull-results`` puts each hand-graded item's
guide above the answer, in a cell tagged ``dlcourse-grading-guide``, for the formgrader;
:class:`DropGradingGuides` removes those cells when nbgrader generates feedback, and
Release Feedback refuses an HTML file that still holds one (``holds_guide``).

The single-user image's ``nbgrader_config.py`` calls :func:`apply`.
"""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool

from ..pull_results import GUIDE_TAG


class DropGradingGuides(Preprocessor):
    """Remove the cells tagged ``GUIDE_TAG`` from a notebook (on unless configured off:
    nbconvert runs a preprocessor only when ``enabled``)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if GUIDE_TAG not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


def holds_guide(folder) -> bool:
    """True if a feedback folder's HTML still carries a grading-guide cell (nbconvert
    writes a cell's tags into its HTML classes)."""
    return any(GUIDE_TAG in path.read_text(encoding="utf-8", errors="replace")
               for path in Path(folder).glob("*.html"))


def apply(c):
    """nbgrader's feedback preprocessors, plus :class:`DropGradingGuides`."""
    from nbgrader.preprocessors import GetGrades

    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, DropGradingGuides]
