"""The sandbox pipeline scores the course's graded labs with the rubric checker.

A notebook that fakes its tests inside its own process (monkeypatched
``np.allclose``) passes nbgrader's test cells but not the process-isolated rubric.
"""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from grader_service.autograde.pipeline import grade_directory
from grader_service.sandbox_protocol import JOB_INFO

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "m02_mlp_scratch_1"
SOURCE = REPO / "course" / "nbgrader" / "source" / ASSIGNMENT
NOTEBOOK = "mlp_scratch_part1.ipynb"
ROLL = "CS21B001"

pytestmark = pytest.mark.slow


def stub_solutions(nb, extra=""):
    """Every solution cell replaced by ``extra`` (the student wrote nothing real)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = extra or "pass"
    return nb


def make_input(tmp_path, student_nb, info=True):
    root = tmp_path / "input"
    shutil.copytree(SOURCE, root / "source")
    (root / "submission").mkdir()
    nbformat.write(student_nb, str(root / "submission" / NOTEBOOK))
    if info:
        (root / JOB_INFO).write_text(json.dumps({"assignment": ASSIGNMENT, "roll_number": ROLL}))
    return root


def grade(tmp_path, student_nb, info=True):
    return grade_directory(str(make_input(tmp_path, student_nb, info)), cell_timeout=120)


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(str(SOURCE / NOTEBOOK), as_version=4)


def test_reference_solution_gets_every_rubric_point(tmp_path, source_nb):
    result = grade(tmp_path, source_nb)
    tests = result["tests"]
    assert tests and all(t["grade_id"].startswith("rubric:") for t in tests)
    automatic = sum(t["max_points"] for t in tests if not t["manual"])
    assert result["score"] == automatic > 0, tests


def test_faked_tests_earn_nothing_from_the_rubric(tmp_path, source_nb):
    cheat = ("import numpy as np\n"
             "np.allclose = lambda *a, **k: True\n"
             "np.testing.assert_allclose = lambda *a, **k: None\n")
    result = grade(tmp_path, stub_solutions(source_nb, cheat))
    assert result["score"] == 0, result["tests"]


def test_without_job_info_the_test_cells_score(tmp_path, source_nb):
    result = grade(tmp_path, source_nb, info=False)
    assert result["tests"] and result["max_score"] > 0
    assert not any(t["grade_id"].startswith("rubric:") for t in result["tests"])
