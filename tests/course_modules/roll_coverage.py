"""Roll numbers the course-module tests run under: a covering set, plus one random roll.

Every field of ``dlcourse.roll.SCHEMA`` contributes *atoms*, the values a notebook can
meet: ``("hidden_units", 8)``, ``("activations", (2, "sigmoid"))`` (the activation of the
third hidden layer), ``("learning_rate", ("adam", 0.003))`` (a dependent field's atom is the
pair, because its options depend on the optimizer). ``seed`` has no atoms: it is drawn
from 2**31 values, and the random roll samples it.

``COVERING_ROLLS`` is the one list: roll numbers of the course's format whose configs
together hold every atom of every field. It was found by ``search_covering_rolls()`` (a
greedy set cover over ``candidate_rolls()``, deterministic) and is pinned here so a test
id never changes; ``test_roll_coverage.py`` checks both facts.

A notebook runs under the rolls that matter to it: ``rolls_for(path)`` is the base roll
(``ROLL``), the fewest covering rolls that hold every atom of the fields the notebook
reads (``NOTEBOOK_FIELDS``; the test checks the declaration against the notebook's
``CONFIG[...]`` reads), and ``RANDOM_ROLL``: a fresh roll number each session, printed
in the test header and in every test id, replayable with ``COURSE_ROLL=<roll> pytest ...``.
"""

from __future__ import annotations

import os
import secrets

from modules_testing import ROLL  # the base roll: every test uses it, the tier adds these

from dlcourse.roll import SCHEMA, derive_config, normalize_roll_number

#: a second roll for the mutation suite: other values than ROLL in every field but the
#: number of hidden layers, the kernel size and the ablation (sigmoid, tanh and leaky_relu,
#: momentum, 64 units, 4 filters, stride 1, max pooling, a voucher, shifts by 2), more than 20 epochs (the capped-epochs mutant) and not the classmate
#: (CS2024-999) the cheating mutants copy
SECOND_ROLL = "ME2024-002"

#: found by search_covering_rolls(): ROLL first; every atom of every SCHEMA field occurs
#: in one of them (12 is the least possible: learning_rate has 12 (optimizer, rate) atoms)
COVERING_ROLLS = (
    "CS2024-007", "CE2024-005", "CS2024-068", "EE2024-028", "EE2024-080", "CS2024-005",
    "CS2024-016", "CS2024-001", "CS2024-004", "CS2024-006", "CS2024-015", "CS2024-032",
)

#: the fields each notebook reads (directly or through MLP/SmallCNN.from_config);
#: relative to ``course/nbgrader/source``. A notebook missing here reads every field.
MLP_FIELDS = ("hidden_units", "num_hidden_layers", "activations", "seed")
TRAINING_FIELDS = ("optimizer", "learning_rate", "batch_size", "epochs")
CNN_FIELDS = ("cnn_filters", "cnn_kernel_size", "cnn_stride", "cnn_pooling", "seed")
NOTEBOOK_FIELDS = {
    "m01_foundations/quickstart.ipynb": ("seed",),
    "m02_mlp_scratch_1/mlp_scratch_part1.ipynb": ("hidden_units", "num_hidden_layers",
                                                  "activations"),
    "m03_mlp_scratch_2/mlp_scratch_part2.ipynb": (*MLP_FIELDS, "optimizer"),
    "m03_mlp_scratch_2/roll_compare.ipynb": MLP_FIELDS + TRAINING_FIELDS,
    "m04_churn_thresholds/churn_thresholds.ipynb": ("hidden_units", "seed", "churn_offer"),
    "m05_cnn_scratch/cnn_scratch.ipynb": ("cnn_filters", "cnn_kernel_size", "cnn_pooling",
                                          "seed"),
    "m06_framework_cnn/framework_cnn.ipynb": (*CNN_FIELDS, "optimizer", "learning_rate",
                                              "cnn_augmentation"),
    "m07_experimentation/experimentation.ipynb": (*MLP_FIELDS, *TRAINING_FIELDS, "ablation"),
    # the churn track (the reference's); fit_predict fixes optimizer, rate and batch size
    "m08_capstone/capstone_template.ipynb": MLP_FIELDS,
}

#: how many roll numbers per programme code candidate_rolls() generates
CANDIDATES_PER_PROGRAMME = 200
PROGRAMMES = ("CS", "EE", "ME", "CE")


def field_atoms(name, config=None):
    """The atoms of field ``name``: all of them, or those of one ``config``."""
    f = SCHEMA[name]
    if f.low is not None:  # an integer range (the seed): sampled, not covered
        return set()
    if f.length_from is not None:
        if config is not None:
            return {(name, (slot, v)) for slot, v in enumerate(config[name])}
        longest = max(SCHEMA[f.length_from].choices)
        return {(name, (slot, v)) for slot in range(longest) for v in f.choices}
    if f.depends_on is not None:
        if config is not None:
            return {(name, (config[f.depends_on], config[name]))}
        return {(name, (key, v)) for key, options in f.choices.items() for v in options}
    if config is not None:
        return {(name, config[name])}
    return {(name, v) for v in f.choices}


def atoms(fields=None, config=None):
    """Union of ``field_atoms`` over ``fields`` (default: every SCHEMA field)."""
    out = set()
    for name in SCHEMA if fields is None else fields:
        out |= field_atoms(name, config)
    return out


def candidate_rolls():
    """Roll numbers of the course's format, in a fixed order: CS2024-001, ..., CE2024-200."""
    return [f"{p}2024-{n:03d}" for p in PROGRAMMES
            for n in range(1, CANDIDATES_PER_PROGRAMME + 1)]


def greedy_cover(rolls, wanted):
    """The rolls (a subset of ``rolls``, first-best order) whose configs hold every atom
    of ``wanted``: each step takes the roll adding the most uncovered atoms (the earliest
    on ties). Raises ValueError if ``rolls`` cannot cover ``wanted``."""
    have = {r: atoms(config=derive_config(r)) & wanted for r in rolls}
    left, chosen = set(wanted), []
    while left:
        best = max(have, key=lambda r: len(have[r] & left))  # max keeps the first on ties
        if not have[best] & left:
            raise ValueError(f"no roll covers {sorted(left, key=str)[:5]}")
        chosen.append(best)
        left -= have[best]
    return chosen


def search_covering_rolls():
    """``ROLL`` and a greedy cover of the atoms it lacks over ``candidate_rolls()``
    (what ``COVERING_ROLLS`` pins)."""
    return [ROLL, *greedy_cover(candidate_rolls(),
                                atoms() - atoms(config=derive_config(ROLL)))]


def fields_for(notebook):
    """The config fields ``notebook`` (a path relative to source/) reads."""
    return NOTEBOOK_FIELDS.get(str(notebook), tuple(SCHEMA))


def covering_rolls_for(notebook):
    """The fewest of ``COVERING_ROLLS`` holding every atom of the notebook's fields
    (greedy; the base roll counts as already run)."""
    wanted = atoms(fields_for(notebook)) - atoms(config=derive_config(ROLL))
    return greedy_cover(COVERING_ROLLS, wanted) if wanted else []


def _random_roll():
    replay = os.environ.get("COURSE_ROLL", "").strip()
    if replay:
        normalize_roll_number(replay)  # a typo fails here, not as 30 odd failures
        return replay
    return f"{secrets.choice(PROGRAMMES)}{secrets.choice((2023, 2024, 2025))}-" \
           f"{secrets.randbelow(1000):03d}"


#: one per session (COURSE_ROLL=... replays a failure); shown in the header and test ids
RANDOM_ROLL = _random_roll()


def rolls_for(notebook):
    """Base roll, the notebook's covering rolls, and the session's random roll."""
    return [ROLL, *covering_rolls_for(notebook), RANDOM_ROLL]
