"""Rubrics as data: one table per graded module.

A ``Rubric`` is a list of ``Item`` rows (what the gradebook shows); an automatic
item is the sum of its ``SubCheck`` rows, each worth its own points (partial
credit). A sub-check names the student function(s) it calls, the check that
runs (a key of ``dlcourse.grading.registry.CHECKS``), that check's parameters
(input generator, reference, thresholds), a tolerance and a time limit in
seconds. Manual items (presentation, memo) carry points and no sub-checks.

``ASSIGNMENTS`` maps an nbgrader assignment name to its rubric and, where a
notebook covers only part of a rubric, the item ids it is graded on.
``NOTEBOOKS`` overrides that for a second notebook of an assignment, by file stem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dlcourse.builds import REFERENCE_MODULES

#: the deep-learning frameworks a from-scratch lab blocks
FRAMEWORKS = ("torch", "tensorflow", "keras")
#: The course library's reference half (``dlcourse.builds``): no lab may call it. In the
#: grading sandbox the student's uid cannot even read it; elsewhere (local grading,
#: tests) this keeps a lab from earning points with the answer key.
REFERENCE_LIBRARY = REFERENCE_MODULES


@dataclass(frozen=True)
class SubCheck:
    """One automatic check: ``points`` if it passes, 0 otherwise."""

    id: str
    description: str
    points: float
    check: str
    functions: tuple[str, ...]
    params: dict = field(default_factory=dict)
    tolerance: float = 1e-6
    time_limit: float = 10.0


def compare(id, description, points, function, inputs, reference=None, *, tolerance=1e-6,
            time_limit=10.0, **params):
    """A "compare" sub-check: ``function`` on inputs from the generator ``inputs`` against
    the reference of the same name (or ``reference``); ``params`` e.g. ``select=1``."""
    return SubCheck(id, description, points, "compare", (function,),
                    {"inputs": inputs, "reference": reference or function, **params},
                    tolerance=tolerance, time_limit=time_limit)


@dataclass(frozen=True)
class Item:
    """A rubric line. Automatic: the sum of its sub-checks. Manual: ``points`` by hand."""

    id: str
    description: str
    subchecks: tuple[SubCheck, ...] = ()
    manual: bool = False
    points: float = 0.0

    @property
    def max_points(self) -> float:
        return self.points if self.manual else sum(s.points for s in self.subchecks)


@dataclass(frozen=True)
class Rubric:
    """A named list of items plus the modules the student's code may not import."""

    name: str
    items: tuple[Item, ...]
    blocked_modules: tuple[str, ...] = ()

    @property
    def blocks_frameworks(self) -> bool:
        """True for a from-scratch lab: the student's code may not use a framework."""
        return bool(set(FRAMEWORKS) & set(self.blocked_modules))

    @property
    def grades_artifact(self) -> bool:
        """True where the artifact earns points (modules 07 and 08); elsewhere the checker
        only records whether the notebook's artifact verifies."""
        return any(s.check == "artifact" for i in self.items for s in i.subchecks)

    @property
    def max_score(self) -> float:
        return sum(i.max_points for i in self.items)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


def _load():
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

    return {r.name: r for r in (mlp.RUBRIC, cnn.RUBRIC, churn.RUBRIC, framework.RUBRIC,
                                roll_compare.RUBRIC, foundations.RUBRIC,
                                experimentation.RUBRIC, capstone.RUBRIC)}


RUBRICS: dict[str, Rubric] = _load()

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
