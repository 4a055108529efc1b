"""Experimentation (module 07, ``experimentation.ipynb``): 14 points, 12 automatic + 2 by
hand (the reflection). The harness is checked against the untrained model exactly and
against a learning signal when trained; the artifact must reproduce."""

from dlcourse.grading.rubrics.base import REFERENCE_LIBRARY, Item, Rubric, SubCheck

HARNESS = ("run_experiment",)

RUBRIC = Rubric(
    name="experimentation",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("harness", "Experiment harness: run_experiment", (
            SubCheck("harness_untrained", "learning rate 0 gives the validation accuracy and "
                     "loss of MLP.from_config(config) untrained, on your roll's split", 2,
                     "harness", HARNESS, {"part": "untrained"}),
            SubCheck("harness_learns", "a trainable learning rate (not the config's) brings "
                     "the validation loss below 0.8 x the untrained loss", 1, "harness",
                     HARNESS, {"part": "learns", "max_ratio": 0.8}),
            SubCheck("harness_seeded", "the same call gives the same record (seeded run)", 1,
                     "harness", HARNESS, {"part": "seeded"}, tolerance=1e-9),
        )),
        Item("sweep", "Learning-rate sweep", (
            SubCheck("sweep_in_order", "sweep(config, rates): run_experiment's validation "
                     "accuracy per rate, in the order given", 2, "sweep",
                     ("sweep", "run_experiment"), tolerance=1e-9),
        )),
        Item("ablation", "Your roll number's ablation: ablate", (
            SubCheck("ablation_change", "CONFIG['ablation'] of your roll number: one hidden "
                     "layer with the first activation (depth) or half the hidden units "
                     "(width)", 1, "ablation", ("ablate",), {"part": "change"}),
            SubCheck("ablation_others", "every other key of the config unchanged", 1,
                     "ablation", ("ablate",), {"part": "others"}),
        )),
        Item("artifact", "Integrity artifact submission_<roll>.json", (
            SubCheck("artifact_verifies", "written by the notebook; digest, short hash, roll "
                     "number and config of your roll number", 2, "artifact", (),
                     {"part": "verifies"}),
            SubCheck("artifact_reproduced", "its sweep and ablation numbers are what your "
                     "code gives again for your roll-number config", 2, "artifact",
                     ("sweep", "ablate", "run_experiment"),
                     {"part": "reproduced", "module": "experimentation"}),
        )),
        Item("reflection", "What did you learn? (graded by hand)", manual=True, points=2),
    ),
)
