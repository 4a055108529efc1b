"""nbgrader source notebooks: valid, releasable, and the release leaks nothing.

Release versions must hold no solution and no hidden-test text: neither the
markers nor any line that was between them in the source.
"""

import subprocess
import sys

import nbformat
import pytest
from modules_testing import (
    GRADED,
    MARKERS,
    SOURCE,
    module_names,
    notebooks,
    secret_lines,
)

MODULE_NOTEBOOKS = [p for p in notebooks() if p.parent.name.startswith("m0")]


def test_every_module_is_in_source():
    assert module_names() == ["m01_foundations", "m02_mlp_scratch_1", "m03_mlp_scratch_2",
                              "m04_churn_thresholds", "m05_cnn_scratch", "m06_framework_cnn",
                              "m07_experimentation", "m08_capstone"]
    for name in module_names():
        assert list((SOURCE / name).glob("*.md")), f"{name} has no reading"


@pytest.mark.parametrize("path", MODULE_NOTEBOOKS, ids=lambda p: p.name)
def test_nbgrader_metadata(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        if meta["grade"]:
            assert meta["points"] > 0, meta["grade_id"]
        if meta["solution"] and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source, meta["grade_id"]


@pytest.mark.parametrize("path", MODULE_NOTEBOOKS, ids=lambda p: p.name)
def test_student_identifier_cell_runs_first(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata["nbgrader"]["grade_id"] == "student_identifier"
    assert code[0].metadata["nbgrader"]["locked"]
    assert any("## Student Identifier (Run First)" in c.source for c in nb.cells)
    env = {"PATH": "/usr/bin:/bin"}  # no ROLL_NUMBER
    proc = subprocess.run([sys.executable, "-c", code[0].source], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "ROLL_NUMBER is not set" in proc.stderr


def test_graded_notebooks_have_rubrics():
    from dlcourse.grading.rubrics import ASSIGNMENTS

    assert set(GRADED) == set(ASSIGNMENTS)
    for rel in GRADED.values():
        assert (SOURCE / rel).is_file()


def test_release_has_every_module(release_dir):
    for name in module_names():
        source = sorted(p.name for p in (SOURCE / name).iterdir() if p.suffix in (".ipynb",
                                                                                 ".md"))
        released = sorted(p.name for p in (release_dir / name).iterdir())
        assert released == source, name


def test_release_leaks_no_solution_or_hidden_test(release_dir):
    checked = 0
    for path in MODULE_NOTEBOOKS:
        released = release_dir / path.parent.name / path.name
        text = released.read_text()
        for marker in MARKERS:
            assert marker not in text, f"{released}: {marker}"
        lines = {line.strip() for cell in nbformat.read(str(released), as_version=4).cells
                 for line in cell.source.splitlines()}
        source = nbformat.read(str(path), as_version=4)
        secrets = secret_lines(source)
        if any(c.metadata["nbgrader"]["solution"] and c.cell_type == "code"
               for c in source.cells):
            assert secrets, f"{path.name}: no solution lines found (the scan would be vacuous)"
        leaked = secrets & lines
        assert not leaked, f"{released.name} leaks {sorted(leaked)[:5]}"
        checked += 1
    assert checked == len(MODULE_NOTEBOOKS)


def test_release_solution_cells_are_stubs(release_dir):
    for path in MODULE_NOTEBOOKS:
        nb = nbformat.read(str(release_dir / path.parent.name / path.name), as_version=4)
        for cell in nb.cells:
            if cell.metadata["nbgrader"]["solution"]:
                assert ("raise NotImplementedError()" in cell.source
                        or "YOUR ANSWER HERE" in cell.source), cell.metadata["nbgrader"]


RUBRIC_NOTEBOOKS = [p for p in MODULE_NOTEBOOKS if p.parent.name in GRADED]


def nbgrader_grade_cells(nb):
    """grade_id -> (points, manual) of a notebook's graded cells: an autograded test cell
    (code, not a solution) is automatic; a graded solution or markdown cell is manual."""
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if meta.get("grade"):
            manual = bool(meta.get("solution")) or cell.cell_type == "markdown"
            cells[meta["grade_id"]] = (float(meta["points"]), manual)
    return cells


@pytest.mark.parametrize("path", RUBRIC_NOTEBOOKS, ids=lambda p: p.name)
def test_grade_cells_are_the_rubric_items(path):
    """The formgrader's cells are the service's rubric items (``dl-grader pull-results``
    maps cell ``<id>`` to ``rubric:<id>``): same ids, points and manual flags, one cell
    per item and no other graded cell; the intro promises the rubric's total."""
    import re

    from dlcourse.grading.rubrics import notebook_rubric

    found = notebook_rubric(path.parent.name, path.name)
    assert found is not None, f"{path.name} is graded by no rubric"
    rubric, items = found
    nb = nbformat.read(str(path), as_version=4)
    cells = nbgrader_grade_cells(nb)
    assert cells == {item.id: (float(item.max_points), item.manual) for item in items}
    total = sum(points for points, _manual in cells.values())
    assert total == sum(item.max_points for item in items)
    if len(items) == len(rubric.items):
        assert total == rubric.max_score
    promised = re.search(r"\*\*Grading \((\d+(?:\.\d+)?) (?:automatic )?points\)",
                         nb.cells[0].source)
    assert promised, f"{path.name}: the intro gives no 'Grading (N points)'"
    assert float(promised.group(1)) == total
    for item in items:  # every automatic item's test cell sits after the code it checks
        if not item.manual:
            index = next(i for i, c in enumerate(nb.cells)
                         if c.metadata["nbgrader"]["grade_id"] == item.id)
            assert any(c.metadata["nbgrader"]["solution"] and c.cell_type == "code"
                       for c in nb.cells[:index]), item.id


def test_every_rubric_notebook_is_checked():
    paths = {p.relative_to(SOURCE).as_posix() for p in RUBRIC_NOTEBOOKS}
    assert paths >= set(GRADED.values()) | {"m03_mlp_scratch_2/roll_compare.ipynb"}


def test_syllabus_lists_every_lab_with_the_rubrics_points():
    """``course/README.md`` (preloaded as ~/course/SYLLABUS.md): one row per graded
    assignment whose points are the rubric's (``a + b`` for a second graded notebook),
    and a weighting that adds up to 100 %."""
    import re

    from dlcourse.grading.rubrics import ASSIGNMENTS, NOTEBOOKS, rubric_for

    text = (SOURCE.parents[1] / "README.md").read_text()
    rows = dict(re.findall(r"^\| \d \| .+? \| `(m0\d_\w+)` \| ([\d + ]+) \|", text, re.M))
    assert set(rows) == set(ASSIGNMENTS), rows
    for assignment, points in rows.items():
        expected = [sum(i.max_points for i in rubric_for(assignment)[1])]
        expected += [sum(i.max_points for i in rubric_for(a, nb)[1])
                     for a, nb in NOTEBOOKS if a == assignment]
        assert [int(p) for p in points.split("+")] == expected, assignment
    weights = re.search(r"weighting of the final grade.*?:(.*?)\n\n", text, re.S).group(1)
    assert sum(int(w) for w in re.findall(r"(\d+) %", weights)) == 100


def test_every_written_answer_has_its_prompt_in_the_release(release_dir):
    """nbgrader replaces a manually graded markdown cell with "YOUR ANSWER HERE" on
    release, so the question must live in the markdown cell before it: at least 20
    words beyond its heading, for every hand-graded item of every module."""
    import re

    found = 0
    for path in sorted(release_dir.glob("m0*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if not (meta.get("grade") and meta.get("solution")):
                continue
            found += 1
            prompt = next(c for c in reversed(nb.cells[:i]) if c.cell_type == "markdown"
                          and not c.metadata.get("nbgrader", {}).get("grade"))
            body = re.sub(r"^#+ .*$", "", prompt.source, flags=re.M)
            assert len(body.split()) >= 20, (path.name, meta["grade_id"], prompt.source)
    assert found == 8  # presentation, discussion, memo, comparison, reflection, capstone x3
