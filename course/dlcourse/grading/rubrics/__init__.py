"""Rubrics as data: one table per graded module.

A ``Rubric`` is a list of ``Item`` rows (what the gradebook shows); an automatic
item is the sum of its ``SubCheck`` rows, each worth its own points (partial
credit). A sub-check names the student function(s) it calls, the check that
runs (a key of ``dlcourse.grading.registry.CHECKS``), that check's parameters
(input generator, reference, thresholds), a tolerance and a time limit in
seconds. Manual items (presentation, memo) carry points and no sub-checks. The types
are in ``rubrics.base``; each module's table in a module of its own.

``ASSIGNMENTS`` maps an nbgrader assignment name to its rubric and, where a
notebook covers only part of a rubric, the item ids it is graded on.
``NOTEBOOKS`` overrides that for a second notebook of an assignment, by file stem.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from dlcourse.grading.rubrics import (
    capstone,
    churn,
    cnn,
    experimentation,
    foundations,
    framework,
    mlp,
    roll_compare,
)
from dlcourse.grading.rubrics.base import (
    FRAMEWORKS,
    REFERENCE_LIBRARY,
    SCRATCH_BLOCKED,
    Item,
    Rubric,
    SubCheck,
    compare,
)

__all__ = ["ASSIGNMENTS", "FRAMEWORKS", "NOTEBOOKS", "REFERENCE_LIBRARY", "RUBRICS",
           "SCRATCH_BLOCKED", "Item", "Rubric", "SubCheck", "compare", "notebook_rubric",
           "rubric_for"]

RUBRICS: dict[str, Rubric] = {r.name: r for r in (
    mlp.RUBRIC, cnn.RUBRIC, churn.RUBRIC, framework.RUBRIC, roll_compare.RUBRIC,
    foundations.RUBRIC, experimentation.RUBRIC, capstone.RUBRIC)}

#: nbgrader assignment -> (rubric name, item ids graded there or None for all).
ASSIGNMENTS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "m01_foundations": ("foundations", None),
    "m02_mlp_scratch_1": ("mlp", ("forward_sanity", "activation_derivatives", "bce_clipping")),
    "m03_mlp_scratch_2": ("mlp", None),
    "m04_churn_thresholds": ("churn", None),
    "m05_cnn_scratch": ("cnn", None),
    "m06_framework_cnn": ("framework", None),
    "m07_experimentation": ("experimentation", None),
    "m08_capstone": ("capstone", None),
}


#: (assignment, notebook file stem) -> (rubric name, item ids or None), for assignments
#: with more than one graded notebook.
NOTEBOOKS: dict[tuple[str, str], tuple[str, tuple[str, ...] | None]] = {
    ("m03_mlp_scratch_2", "roll_compare"): ("roll_compare", None),
}


def rubric_for(assignment: str, notebook: str | None = None) -> tuple[Rubric, tuple[Item, ...]]:
    """The rubric of an assignment (or a rubric name) and the items graded there.

    notebook: the graded notebook's file stem, for assignments listed in ``NOTEBOOKS``.
    """
    if (assignment, notebook) in NOTEBOOKS:
        name, ids = NOTEBOOKS[(assignment, notebook)]
        rubric = RUBRICS[name]
        return rubric, rubric.items if ids is None else tuple(rubric.item(i) for i in ids)
    if assignment in RUBRICS:
        rubric = RUBRICS[assignment]
        return rubric, rubric.items
    if assignment not in ASSIGNMENTS:
        raise KeyError(f"no rubric for assignment {assignment!r}; known: "
                       f"{sorted(ASSIGNMENTS)}")
    name, ids = ASSIGNMENTS[assignment]
    rubric = RUBRICS[name]
    items = rubric.items if ids is None else tuple(rubric.item(i) for i in ids)
    return rubric, items


def notebook_rubric(assignment: str, notebook_path: str):
    """``(rubric, items)`` grading the notebook at ``notebook_path`` (its file stem names
    it) of ``assignment``, or None: no course rubric, the nbgrader test cells grade it.
    The sandbox and the service's result check both decide with this one function."""
    if not assignment:
        return None
    try:
        return rubric_for(assignment, PurePosixPath(notebook_path.replace("\\", "/")).stem)
    except KeyError:
        return None
