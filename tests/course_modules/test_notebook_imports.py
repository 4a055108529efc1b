"""No cell of any source notebook imports a reference-only dlcourse module.

Students get the student build of ``dlcourse`` (``dlcourse.builds``): solution, locked
and test cells alike run in the student's own kernel, so an import of a reference
module there would fail for the student (and would show where the reference lives).
The scan is static: every ``import`` / ``from ... import`` in every code cell,
at any depth (inside functions too).
"""

import ast

import nbformat
import pytest
from modules_testing import notebooks

from dlcourse.builds import is_reference_module


def imported_modules(source):
    """Every module a cell's code imports, with ``from pkg import name`` also giving
    ``pkg.name`` (it may be a submodule). IPython magics and shell lines are skipped."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
    names = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def reference_imports(source):
    """The reference modules a cell imports (``pkg.name`` only where ``pkg`` is not one)."""
    bad = {name for name in imported_modules(source) if is_reference_module(name)}
    return sorted(name for name in bad if name.rpartition(".")[0] not in bad)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_cell_imports_a_reference_module(path):
    nb = nbformat.read(str(path), as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            bad = reference_imports(cell.source)
            if bad:
                found[cell.metadata.get("nbgrader", {}).get("grade_id", "?")] = bad
    assert not found, f"cells importing reference-only modules: {found}"


@pytest.mark.parametrize(("source", "expected"), [
    ("from dlcourse.metrics import roc_auc", ["dlcourse.metrics"]),
    ("import dlcourse.models as m", ["dlcourse.models"]),
    ("from dlcourse import train, data", ["dlcourse.train"]),
    ("def f():\n    from dlcourse.twins.torch_twin import to_torch\n",
     ["dlcourse.twins.torch_twin"]),
    ("from dlcourse.grading import checks", ["dlcourse.grading.checks"]),
    ("%matplotlib inline\nfrom dlcourse.nets import MLP, fit", []),
    ("from dlcourse.data import make_moons\nimport numpy as np", []),
])
def test_the_scan_finds_reference_imports(source, expected):
    assert reference_imports(source) == expected
