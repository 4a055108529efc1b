"""Helpers for the course-module tests: where the notebooks are, and source patches.

A mutant is data: "replace function X's definition with this source" (and/or
"append this code"), applied to a copy of a solution notebook.
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course" / "nbgrader"
SOURCE = COURSE / "source"
ROLL = "CS2024-007"

#: what took how long (seconds), printed at the end of the session (see conftest).
TIMINGS: dict[str, float] = {}

#: graded assignment -> its solution notebook (relative to source/)
GRADED = {
    "m01_foundations": "m01_foundations/quickstart.ipynb",
    "m02_mlp_scratch_1": "m02_mlp_scratch_1/mlp_scratch_part1.ipynb",
    "m03_mlp_scratch_2": "m03_mlp_scratch_2/mlp_scratch_part2.ipynb",
    "m04_churn_thresholds": "m04_churn_thresholds/churn_thresholds.ipynb",
    "m05_cnn_scratch": "m05_cnn_scratch/cnn_scratch.ipynb",
    "m06_framework_cnn": "m06_framework_cnn/framework_cnn.ipynb",
    "m07_experimentation": "m07_experimentation/experimentation.ipynb",
    "m08_capstone": "m08_capstone/capstone_template.ipynb",
}

#: the second graded notebook of module 03 (rubric ``roll_compare``)
ROLL_COMPARE = "m03_mlp_scratch_2/roll_compare.ipynb"


@dataclass(frozen=True)
class Mutant:
    """A buggy or cheating variant of a reference solution.

    function/source: replace the definition of ``function`` with ``source``;
    or edits: (old, new) text replacements inside ``function``'s definition.
    append: code added to the end of the cell that defines ``function`` (or the
    last solution cell). lost: rubric item id -> points the mutant must lose.
    """

    id: str
    assignment: str
    lost: dict
    function: str | None = None
    source: str = ""
    append: str = ""
    edits: tuple = ()
    notebook: str | None = None  # relative to source/; default GRADED[assignment]

    @property
    def path(self) -> Path:
        return SOURCE / (self.notebook or GRADED[self.assignment])
    notes: str = field(default="", compare=False)


MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def secret_lines(nb):
    """Lines inside solution/hidden-test blocks (8+ characters) that never appear
    outside them: none of these may reach a student."""
    inside, outside = set(), set()
    for cell in nb.cells:
        for match in _BLOCK.finditer(cell.source):
            inside.update(line.strip() for line in match.group(2).splitlines())
        outside.update(line.strip() for line in _BLOCK.sub("", cell.source).splitlines())
    return {line for line in inside - outside if len(line) >= 8}


def module_names():
    """The eight course modules (``m01_...`` to ``m08_...``)."""
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and p.name.startswith("m0"))


def notebooks(assignment=None):
    """Every source notebook (all assignments, or one)."""
    base = SOURCE if assignment is None else SOURCE / assignment
    return sorted(p for p in base.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _replace_def(source, name, new=None, edits=()):
    """``source`` with function ``name`` replaced by ``new`` or edited; None if absent."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines()
            start = node.lineno - 1 - len(node.decorator_list)
            body = "\n".join(lines[start:node.end_lineno])
            for old, replacement in edits:
                if old not in body:
                    raise LookupError(f"{name}: {old!r} not found")
                body = body.replace(old, replacement)
            if new:
                body = textwrap.dedent(new).strip("\n")
            return "\n".join(lines[:start] + body.splitlines() + lines[node.end_lineno:])
    return None


def apply_mutant(nb, mutant):
    """A copy of ``nb`` with the mutant's patch applied (raises if the function is absent)."""
    nb = nbformat.from_dict(nb)
    target = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if mutant.function:
            patched = _replace_def(cell.source, mutant.function, mutant.source, mutant.edits)
            if patched is not None:
                cell.source, target = patched, cell
                break
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            target = cell
    if target is None:
        raise LookupError(f"{mutant.id}: no cell defines {mutant.function}")
    if mutant.append:
        target.source += "\n\n" + textwrap.dedent(mutant.append).strip("\n")
    return nb


def write_mutant(tmp_path, mutant):
    nb = nbformat.read(str(mutant.path), as_version=4)
    path = tmp_path / mutant.id / mutant.path.name  # the file name selects the rubric
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(apply_mutant(nb, mutant), str(path))
    return path


#: Injected after a solution notebook has run (matplotlib on the Agg backend keeps every
#: figure open): lists the axes that draw data without a title or axis labels.
PLOT_AUDIT = r'''
import json as _json
import matplotlib.pyplot as _plt
_problems, _count = [], 0
for _num in _plt.get_fignums():
    _fig = _plt.figure(_num)
    _sup = _fig._suptitle.get_text() if _fig._suptitle is not None else ""
    for _ax in _fig.axes:
        if not (_ax.lines or _ax.patches or _ax.collections or _ax.images):
            continue
        _count += 1
        if _ax.images and not _ax.get_xticks().size and not _ax.get_yticks().size and _sup:
            continue  # an image grid under a figure title (dlcourse.plots.plot_images)
        _missing = [name for name, text in (("title", _ax.get_title() or _sup),
                                            ("xlabel", _ax.get_xlabel()),
                                            ("ylabel", _ax.get_ylabel())) if not text]
        if _missing:
            _problems.append(f"figure {_num} axes {_ax.get_title()!r}: missing {_missing}")
print("PLOT_AUDIT " + _json.dumps({"axes": _count, "problems": _problems}))
'''


def execute_notebook(path, roll=ROLL, timeout=600):
    """Run a notebook headless in a fresh kernel -> (executed nb, plot audit dict, seconds).

    The kernel gets its environment (``ROLL_NUMBER`` etc.) when it starts; this process's
    ``os.environ`` is left alone, so several notebooks may run at once (``tier_result``).
    """
    import json
    import tempfile
    import time

    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(new_code_cell(PLOT_AUDIT))
    with tempfile.TemporaryDirectory() as artifacts:  # submission_<roll>.json, not in source/
        env = {**os.environ, "ROLL_NUMBER": roll, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
               "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow",
               "SUBMISSION_DIR": artifacts}
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
        seconds = time.perf_counter() - start
        written = {p.name: json.loads(p.read_text())
                   for p in Path(artifacts).glob("submission_*.json")}
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    audit = {**json.loads(text.split("PLOT_AUDIT ", 1)[1]), "artifacts": written}
    return nb, audit, seconds


# ----------------------------------------------------------------------------
# The roll-coverage tier runs its jobs (notebooks, gradings) two at a time
# ----------------------------------------------------------------------------
#: concurrent jobs of the roll-coverage tier (CI has 2 cores); COURSE_TIER_WORKERS=1: serial
TIER_WORKERS = max(1, int(os.environ.get("COURSE_TIER_WORKERS", "2")))
_TIER_JOBS: dict = {}
_TIER_SUBMITTED: set = set()
_TIER_POOL = None


def tier_result(request, job):
    """``job(**params)`` for the calling parametrized test, computed in a small pool.

    The first test of a function submits the jobs of every *selected* test of that
    function, in collection order, so the next job runs while a test waits for its own;
    each test then waits only for its job. Exceptions re-raise in the test.
    """
    global _TIER_POOL
    from concurrent.futures import ThreadPoolExecutor

    name = request.node.originalname
    if name not in _TIER_SUBMITTED:
        _TIER_SUBMITTED.add(name)
        if _TIER_POOL is None:
            _TIER_POOL = ThreadPoolExecutor(TIER_WORKERS, thread_name_prefix="roll-tier")
        for item in request.session.items:
            if getattr(item, "originalname", None) == name:
                _TIER_JOBS[item.nodeid] = _TIER_POOL.submit(job, **item.callspec.params)
    return _TIER_JOBS.pop(request.node.nodeid).result()


def tier_shutdown():
    """Drop the jobs no test will wait for (after -x or Ctrl-C); called at session end."""
    if _TIER_POOL is not None:
        _TIER_POOL.shutdown(wait=True, cancel_futures=True)
