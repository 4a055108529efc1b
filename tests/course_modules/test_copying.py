"""A notebook copied from a classmate loses the points that depend on the roll number.

The copy is the reference solution as a student of roll number A writes it: wherever the
solution reads ``CONFIG``, A's own values are written in (a student implements *their*
pooling, *their* spec, *their* seed, not a dispatch over every roll's). Graded as roll
number B, whose configuration differs in the fields those answers depend on, it must
lose exactly the roll-dependent points and keep every other automatic point; the same
notebook graded as A keeps everything (the copy is a right answer, for someone else).
"""

import re

import nbformat
import pytest
from modules_testing import GRADED, SOURCE
from roll_coverage import ROLL

from dlcourse.grading import grade_notebook
from dlcourse.roll import derive_config

#: lab -> (fields whose values the copier's must differ in, points lost per rubric item)
COPIED = {
    "m01_foundations": (("seed",), {"reproducibility": 1}),
    "m02_mlp_scratch_1": (("activations",), {"forward_sanity": 1}),
    "m03_mlp_scratch_2": (("optimizer", "activations"), {"learning_signal": 2,
                                                         "forward_sanity": 1}),
    "m04_churn_thresholds": (("churn_offer",), {"profit_model": 5, "tau_selection": 5}),
    "m05_cnn_scratch": (("cnn_pooling",), {"pool_forward": 2, "gradient_routes": 3,
                                           "learning_signal": 2}),
    # another spec (both models), augmentation and optimizer (both frameworks)
    "m06_framework_cnn": (("cnn_filters", "cnn_augmentation", "optimizer"),
                          {"model_spec": 6, "training": 4}),
    "m07_experimentation": (("ablation",), {"ablation": 2}),
    "m08_capstone": (("activations", "hidden_units"), {"model_spec": 2}),
}
AUTHOR = ROLL
_CONFIG = re.compile(r"\bCONFIG\b")


def copier_for(fields):
    """The first roll number whose config differs from the author's in every field."""
    mine = derive_config(AUTHOR)
    for n in range(1, 1000):
        roll = f"CS2024-{n:03d}"
        if all(derive_config(roll)[f] != mine[f] for f in fields):
            return roll
    raise LookupError(f"no roll number differs from {AUTHOR} in {fields}")


def written_for(nb, roll):
    """``nb`` with the roll number's values written into every solution cell that reads
    ``CONFIG`` (how that student's own notebook reads)."""
    nb = nbformat.from_dict(nb)
    frozen = repr(derive_config(roll))
    for cell in nb.cells:
        solution = cell.metadata.get("nbgrader", {}).get("solution")
        if cell.cell_type == "code" and solution and _CONFIG.search(cell.source):
            cell.source = f"MY_CONFIG = {frozen}\n" + _CONFIG.sub("MY_CONFIG", cell.source)
    return nb


def lost_points(result):
    return {i["id"]: i["max_points"] - i["points"] for i in result["items"]
            if not i["manual"] and i["points"] < i["max_points"]}


@pytest.mark.parametrize("assignment", sorted(COPIED))
def test_a_notebook_copied_from_a_classmate_loses_the_roll_dependent_points(assignment,
                                                                             tmp_path):
    fields, lost = COPIED[assignment]
    copier = copier_for(fields)
    source = SOURCE / GRADED[assignment]
    path = tmp_path / source.name  # the file name selects the rubric
    nbformat.write(written_for(nbformat.read(str(source), as_version=4), AUTHOR), str(path))
    files = {p.name: p.read_bytes() for p in source.parent.iterdir()
             if p.is_file() and p.suffix != ".ipynb"}

    as_author = grade_notebook(path, assignment, AUTHOR, seed=1, files=files)
    assert lost_points(as_author) == {}, as_author
    as_copier = grade_notebook(path, assignment, copier, seed=1, files=files)
    assert lost_points(as_copier) == lost, (copier, as_copier)
    for item in as_copier["items"]:
        if item["id"] in lost:
            failed = [s["message"] for s in item["subchecks"] if not s["passed"]]
            assert failed and all("roll number" in m or "held-out" in m or "loss" in m
                                  for m in failed), failed
