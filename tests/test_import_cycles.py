"""No import cycles inside the course's own packages.

Every ``.py`` file of ``dlcourse``, ``grader_service`` and ``course_hub`` is read as a
syntax tree (nothing is imported), and every import statement in it counts, also one
inside a function: an import moved into a function to get round a cycle is still the
cycle. An edge goes from the importing module to

- ``X`` for ``import X`` (the longest prefix of ``X`` that is a module of the package);
- ``pkg.name`` for ``from pkg import name`` when ``pkg.name`` is a module, else ``pkg``;
- relative imports resolved against the importing module's package first.

Only edges inside the same top-level package are kept. A package's ``__init__``
importing its own submodules is fine, and so is a submodule importing a sibling; a
submodule importing from its package's ``__init__`` while that ``__init__`` imports the
submodule is a cycle. Each strongly connected component of more than one module is a
cycle, reported with the import lines that make it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {
    "dlcourse": REPO / "course" / "dlcourse",
    "grader_service": REPO / "grader_service" / "grader_service",
    "course_hub": REPO / "hub" / "course_hub",
}


def package_modules(top: str, folder: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package in ``folder``."""
    modules = {}
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = (top, *path.relative_to(folder).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _known(name: str, modules) -> str:
    """The longest prefix of ``name`` that is one of ``modules`` (else ``name``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return name


def imports_of(name: str, path: Path, modules) -> list[tuple[str, int]]:
    """``[(imported module, line)]`` for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(_known(alias.name, modules), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[:max(len(base) - node.level + 1, 0)]
                source = ".".join(part for part in (*base, source) if part)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append((candidate if candidate in modules else _known(source, modules),
                              node.lineno))
    return found


def import_graph(top: str, folder: Path) -> dict[str, dict[str, list[str]]]:
    """``{module: {imported module of the same package: ["file:line", ...]}}``."""
    modules = package_modules(top, folder)
    graph: dict[str, dict[str, list[str]]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, line in imports_of(name, path, modules):
            if target != name and target.split(".")[0] == top:
                where = f"{path.relative_to(folder.parent)}:{line}"
                lines = graph[name].setdefault(target, [])
                if where not in lines:
                    lines.append(where)
    return graph


def strongly_connected(graph) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in graph:
                    continue
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycles(graph) -> list[str]:
    """One readable entry per cycle: its modules and the imports between them."""
    found = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        edges = [f"    {source} -> {target}  ({', '.join(where)})"
                 for source in component for target, where in sorted(graph[source].items())
                 if target in members]
        found.append(" <-> ".join(component) + "\n" + "\n".join(edges))
    return found


@pytest.mark.parametrize("top", sorted(PACKAGES))
def test_no_import_cycles(top):
    graph = import_graph(top, PACKAGES[top])
    assert len(graph) > 5, f"{top}: found only {sorted(graph)}"
    found = cycles(graph)
    assert not found, f"{len(found)} import cycle(s) in {top}:\n" + "\n".join(found)


# -- the detector itself, on packages made up for the purpose --------------------------
def write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "pkg"


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"__init__.py": "from pkg import a\n", "a.py": "from pkg import b\n",
                  "b.py": "X = 1\n"}, [], id="init imports a submodule, a sibling"),
    pytest.param({"__init__.py": "from pkg.a import f\n", "a.py": "from pkg import VALUE\n"},
                 [["pkg", "pkg.a"]], id="submodule imports from its package's init"),
    pytest.param({"__init__.py": "", "a.py": "import pkg.b\n",
                  "b.py": "def f():\n    from pkg.a import g\n"},
                 [["pkg.a", "pkg.b"]], id="import inside a function counts"),
    pytest.param({"__init__.py": "", "sub/__init__.py": "from . import x\n",
                  "sub/x.py": "from ..y import z\n", "y.py": "from .sub import x\n"},
                 [["pkg.sub.x", "pkg.y"]], id="relative imports resolved"),
    pytest.param({"__init__.py": "", "sub/__init__.py": "from .x import f\n",
                  "sub/x.py": "from . import helper\n"},
                 [["pkg.sub", "pkg.sub.x"]], id="relative import of a name from the init"),
    pytest.param({"__init__.py": "import os\nfrom numpy import array\n", "a.py": "import pkg\n"},
                 [], id="other packages ignored"),
])
def test_the_detector(tmp_path, files, expected):
    graph = import_graph("pkg", write_package(tmp_path, files))
    assert [c for c in strongly_connected(graph) if len(c) > 1] == expected
