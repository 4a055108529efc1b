"""Checks for the project modules: the experiment harness (07) and the capstone (08).

Like the labs' checks (``dlcourse.grading.checks``), these run in the parent: they draw their own
configurations, learning rates and data, call the student's functions in the child and
judge what comes back with the course library. Training runs are noisy by design, so
trained results are judged by behaviour (a loss that falls, a held-out metric above a
bar, identical results for identical calls), while everything that does not depend on
training noise is exact: the untrained model's validation numbers, the roll-number spec,
the artifact's contents.

Both modules' notebooks write ``submission_<roll>.json`` with ``dlcourse.artifacts``
while the grader runs them (``SUBMISSION_DIR`` is the child's scratch directory); the
artifact checks read that file, verify it against the roll number the grader was given,
and call the student's own functions again to reproduce the numbers it holds.

The data recipes (``experiment_split``, ``capstone_data``) mirror the locked data cells
of the two notebooks; the reference solutions' artifact checks fail if they drift apart.

One module a concern: ``harness`` (module 07's ``run_experiment``), ``experiments`` (its
sweep, ablation and artifact), ``capstone`` (module 08) and ``artifact`` (reading and
verifying the file both write); this package joins their checks in ``CHECKS``.
"""

from __future__ import annotations

from dlcourse.grading.projects.artifact import read_artifact
from dlcourse.grading.projects.capstone import (
    check_capstone_pipeline,
    check_capstone_spec,
    reproduce_capstone,
)
from dlcourse.grading.projects.experiments import (
    check_ablation,
    check_sweep,
    reproduce_experiments,
)
from dlcourse.grading.projects.harness import check_harness


def check_artifact(ctx, sub):
    """The notebook's artifact: part "verifies" (digest, short hash, roll number and
    config of the grader's roll number) or part "reproduced" (its numbers are what the
    student's own functions give again, for the roll number's config)."""
    if sub.params["part"] == "verifies":
        record, reason = read_artifact(ctx)
        return record is not None, reason or "verifies against your roll number"
    return REPRODUCE[sub.params["module"]](ctx, sub)


REPRODUCE = {"experimentation": reproduce_experiments, "capstone": reproduce_capstone}

CHECKS = {
    "harness": check_harness,
    "sweep": check_sweep,
    "ablation": check_ablation,
    "artifact": check_artifact,
    "capstone_spec": check_capstone_spec,
    "capstone_pipeline": check_capstone_pipeline,
}
