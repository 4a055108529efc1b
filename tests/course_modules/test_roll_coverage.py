"""The roll numbers of the coverage tier: they cover the schema, and the tier knows what
each notebook reads."""

import re

import nbformat
import pytest
from modules_testing import SOURCE, notebooks
from roll_coverage import (
    COVERING_ROLLS,
    NOTEBOOK_FIELDS,
    RANDOM_ROLL,
    ROLL,
    SECOND_ROLL,
    atoms,
    covering_rolls_for,
    fields_for,
    search_covering_rolls,
)

from dlcourse.roll import SCHEMA, derive_config, is_valid_roll_number

MODULE_NOTEBOOKS = [p for p in notebooks() if p.parent.name.startswith("m0")]


def test_covering_rolls_hold_every_value_of_every_field():
    held = set().union(*(atoms(config=derive_config(r)) for r in COVERING_ROLLS))
    assert held == atoms()
    for name, f in SCHEMA.items():  # plainly: every option of every field occurs
        if f.low is not None:
            continue
        seen = {v for r in COVERING_ROLLS for v in
                (derive_config(r)[name] if f.length_from else [derive_config(r)[name]])}
        options = (set().union(*map(set, f.choices.values())) if f.depends_on
                   else set(f.choices))
        assert seen == options, name
    assert COVERING_ROLLS[0] == ROLL and len(set(COVERING_ROLLS)) == len(COVERING_ROLLS)


def test_covering_rolls_are_what_the_search_finds():
    assert tuple(search_covering_rolls()) == COVERING_ROLLS


def test_each_notebook_gets_a_cover_of_its_own_fields():
    for rel in NOTEBOOK_FIELDS:
        rolls = [ROLL, *covering_rolls_for(rel)]
        held = set().union(*(atoms(config=derive_config(r)) for r in rolls))
        assert atoms(fields_for(rel)) <= held, rel


@pytest.mark.parametrize("path", MODULE_NOTEBOOKS, ids=lambda p: p.name)
def test_declared_fields_include_every_config_read(path):
    """A notebook that starts reading another field must declare it, or the tier would
    not run that field's values."""
    rel = path.relative_to(SOURCE).as_posix()
    assert rel in NOTEBOOK_FIELDS, f"declare the config fields {rel} reads"
    code = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells
                     if c.cell_type == "code")
    read = set(re.findall(r"""CONFIG\[["'](\w+)["']\]""", code))
    assert read <= set(NOTEBOOK_FIELDS[rel]), read - set(NOTEBOOK_FIELDS[rel])


def test_second_and_random_rolls():
    assert is_valid_roll_number(RANDOM_ROLL)
    base, second = derive_config(ROLL), derive_config(SECOND_ROLL)
    # the ablation: both depth (width runs in the covering rolls and the copy test)
    assert [k for k in SCHEMA if base[k] == second[k]] == ["num_hidden_layers",
                                                              "cnn_kernel_size", "ablation"]
    assert second["epochs"] > 20  # the capped-epochs mutant must change something
