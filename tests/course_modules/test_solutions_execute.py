"""Every solution (source) notebook executes headless on CPU, and its plots are labelled.

Run times are printed in the session summary (see conftest). Notebooks that
import TensorFlow/Keras and PyTorch are marked ``slow`` and ``frameworks`` but
never skipped.

The roll-coverage tier runs each notebook again under the covering roll numbers of
the config fields it reads and under the session's random roll (``roll_coverage``),
two notebooks at a time.
"""

import nbformat
import pytest
from modules_testing import SOURCE, TIMINGS, execute_notebook, notebooks, tier_result
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from roll_coverage import RANDOM_ROLL, ROLL, rolls_for

HEAVY = {"roll_compare.ipynb", "churn_thresholds.ipynb", "framework_cnn.ipynb"}


def _param(path):
    marks = [pytest.mark.slow, pytest.mark.frameworks] if path.name in HEAVY else []
    return pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in notebooks()
                                  if p.parent.name.startswith("m0")])
def test_solution_notebook_executes(path):
    nb, audit, seconds = execute_notebook(path)
    TIMINGS[f"{path.parent.name}/{path.name}"] = seconds
    assert not audit["problems"], audit["problems"]
    assert audit["axes"] >= 1, "expected at least one plot"
    _assert_writes_its_artifact(path, audit["artifacts"], ROLL)


def _assert_writes_its_artifact(path, written, roll):
    """Every graded notebook writes one integrity artifact of the roll number it ran
    under, with its key numbers (modules 07 and 08: the plain name their rubric grades)."""
    from dlcourse.artifacts import artifact_filename, verify_submission
    from dlcourse.roll import normalize_roll_number

    alone = path.parent.name in ("m07_experimentation", "m08_capstone")
    name = artifact_filename(roll, None if alone else path.stem)
    assert list(written) == [name], written
    record = written[name]
    assert verify_submission(record) == [], verify_submission(record)
    assert record["roll_number"] == normalize_roll_number(roll)
    assert alone or record["notebook"] == path.stem
    assert record["metrics"] and all(isinstance(v, int | float) for v in
                                     record["metrics"].values()), record["metrics"]


def roll_id(roll):
    return f"random:{roll}" if roll == RANDOM_ROLL else roll


def _roll_params():
    for path in notebooks():
        if not path.parent.name.startswith("m0"):
            continue
        rel = path.relative_to(SOURCE).as_posix()
        for roll in dict.fromkeys(rolls_for(rel)):  # ROLL runs above; the random one may repeat
            if roll != ROLL:
                yield pytest.param(path, roll, id=f"{path.name}@{roll_id(roll)}",
                                   marks=_param(path).marks)


def _execute(path, roll):
    return execute_notebook(path, roll)


@pytest.mark.parametrize(("path", "roll"), list(_roll_params()))
def test_solution_notebook_executes_for_every_roll(path, roll, request):
    """Roll-coverage tier: every value of every config field the notebook reads."""
    nb, audit, seconds = tier_result(request, _execute)
    TIMINGS[f"{path.parent.name}/{path.name}@{roll}"] = seconds
    assert not audit["problems"], audit["problems"]
    _assert_writes_its_artifact(path, audit["artifacts"], roll)


def test_plot_audit_catches_an_unlabelled_plot(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# scratch"),
        new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\n"
                      "plt.title('titled but no axis labels')"),
    ])
    path = tmp_path / "unlabelled.ipynb"
    nbformat.write(nb, str(path))
    _, audit, _ = execute_notebook(path)
    assert audit["axes"] == 1
    assert audit["problems"] and "xlabel" in audit["problems"][0]
