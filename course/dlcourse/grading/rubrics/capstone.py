"""Capstone (module 08, ``capstone_template.ipynb``): 20 points, 8 automatic + 12 by hand
(framing, experiments and results, memo). Either track (churn or vision) can earn every
automatic point."""

from dlcourse.grading.rubrics.base import REFERENCE_LIBRARY, Item, Rubric, SubCheck

PIPELINE = ("fit_predict",)

RUBRIC = Rubric(
    name="capstone",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("framing", "Problem framing: question, metric tied to a decision (graded by "
             "hand)", manual=True, points=4),
        Item("model_spec", "The spec is your roll number's", (
            SubCheck("capstone_spec", "capstone_spec(): the notebook's TRACK and that track's "
                     "architecture keys and seed from your roll number", 2, "capstone_spec",
                     ("capstone_spec",)),
        )),
        Item("pipeline", "Pipeline on data the grader keeps", (
            SubCheck("pipeline_heldout", "fit_predict on fresh data: churn ROC-AUC within 0.1 "
                     "of the true probabilities', or vision accuracy >= 0.6", 2,
                     "capstone_pipeline", PIPELINE,
                     {"part": "heldout", "auc_margin": 0.1, "min_accuracy": 0.6},
                     time_limit=90),
            SubCheck("pipeline_seeded", "the same call gives the same scores", 1,
                     "capstone_pipeline", PIPELINE, {"part": "seeded"}, tolerance=1e-6,
                     time_limit=90),
            SubCheck("pipeline_train_statistics", "a test sample's score does not depend on "
                     "the other test samples (fitting on training data only)", 1,
                     "capstone_pipeline", PIPELINE, {"part": "train_statistics"},
                     tolerance=1e-6, time_limit=90),
        )),
        Item("experiments", "Experiments and results: baseline, sweep, ablation, test "
             "metrics, labelled plots (graded by hand)", manual=True, points=4),
        Item("memo", "Memo: recommendation and risks (graded by hand)", manual=True, points=4),
        Item("artifact", "Integrity artifact submission_<roll>.json", (
            SubCheck("artifact_verifies", "written by the notebook; digest, short hash, roll "
                     "number and config of your roll number", 1, "artifact", (),
                     {"part": "verifies"}),
            SubCheck("artifact_reproduced", "its test metric is what fit_predict gives on "
                     "your roll number's split", 1, "artifact", PIPELINE,
                     {"part": "reproduced", "module": "capstone"}, time_limit=90),
        )),
    ),
)
