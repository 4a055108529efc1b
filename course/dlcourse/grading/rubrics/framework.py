"""Framework CNN (module 06): 20 points, 16 automatic + 4 by hand (the comparison)."""

from dlcourse.grading.rubrics import REFERENCE_LIBRARY, Item, Rubric, SubCheck, compare

#: Shared with the roll-compare notebook of module 03.
MLP_SPEC = SubCheck("mlp_spec", "MLP part of build_model_spec() equals derive_config(roll)", 3,
                    "spec", ("build_model_spec",), {"keys": "mlp"})

RUBRIC = Rubric(
    name="framework",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("model_spec", "Model matches the roll-derived spec", (
            MLP_SPEC,
            SubCheck("cnn_spec", "CNN part of build_model_spec() equals derive_config(roll)", 3,
                     "spec", ("build_model_spec",), {"keys": "cnn"}),
        )),
        Item("training", "Training (Keras)", (
            SubCheck("keras_accuracy", "train_keras_cnn: held-out accuracy >= 0.85 from the "
                     "returned probabilities", 5, "framework_training", ("train_keras_cnn",),
                     time_limit=90),
        )),
        Item("evaluation", "Evaluation metrics", (
            compare("evaluate_binary", "accuracy, precision, recall, ROC-AUC, PR-AUC", 5,
                    "evaluate_binary", "scores_threshold"),
        )),
        Item("comparison", "Comparison with the scratch model (graded by hand)", manual=True,
             points=4),
    ),
)
