"""The types rubrics are written in: ``Rubric``, ``Item``, ``SubCheck`` (and ``compare``,
the common sub-check), and the module lists a lab blocks.

A ``Rubric`` is a list of ``Item`` rows (what the gradebook shows); an automatic
item is the sum of its ``SubCheck`` rows, each worth its own points (partial
credit). A sub-check names the student function(s) it calls, the check that
runs (a key of ``dlcourse.grading.registry.CHECKS``), that check's parameters
(input generator, reference, thresholds), a tolerance and a time limit in
seconds. Manual items (presentation, memo) carry points and no sub-checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlcourse.builds import REFERENCE_MODULES

#: the deep-learning frameworks a from-scratch lab blocks
FRAMEWORKS = ("torch", "tensorflow", "keras")
#: The course library's reference half (``dlcourse.builds``): no lab may call it. In the
#: grading sandbox the student's uid cannot even read it; elsewhere (local grading,
#: tests) this keeps a lab from earning points with the answer key.
REFERENCE_LIBRARY = REFERENCE_MODULES
#: what a from-scratch lab (modules 01, 02, 03, 05) blocks: the reference, the
#: framework-backed models of ``dlcourse.nets`` and the frameworks themselves
SCRATCH_BLOCKED = (*REFERENCE_LIBRARY, "dlcourse.nets", *FRAMEWORKS)


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
