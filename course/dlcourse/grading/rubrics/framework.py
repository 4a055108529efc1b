"""Framework CNN (module 06): 20 points, 16 automatic + 4 by hand (the comparison).

The roll number's spec is checked by behaviour: the checker copies the weights of the
roll's CNN into the student's Keras and PyTorch models and compares their outputs
(``dlcourse.grading.frameworks``); a dict the student writes proves nothing.
"""

from dlcourse.grading.rubrics.base import REFERENCE_LIBRARY, Item, Rubric, SubCheck, compare


def _model(framework, builder, points):
    return SubCheck(f"{framework}_model", f"{builder}: with your roll number's CNN weights "
                    "copied in, the same class probabilities (conv, batch norm, ReLU, "
                    "pooling, dense)", points, "framework_model", (builder,),
                    {"framework": framework}, time_limit=90)


def _optimizer(framework, builder):
    return SubCheck(f"{framework}_optimizer", f"{builder}: four steps of your roll number's "
                    "optimizer", 1, "framework_optimizer", (builder,), {"framework": framework},
                    tolerance=1e-5, time_limit=60)


RUBRIC = Rubric(
    name="framework",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("model_spec", "Keras and PyTorch models of the roll-derived spec", (
            _model("keras", "build_keras_cnn", 3),
            _model("torch", "build_torch_cnn", 3),
        )),
        Item("training", "Training: augmentation, optimizer and held-out accuracy", (
            compare("augmentation", "augment: your roll number's copies of a batch", 2,
                    "augment", "images_labels"),
            _optimizer("keras", "make_keras_optimizer"),
            _optimizer("torch", "make_torch_optimizer"),
            SubCheck("keras_accuracy", "train_keras_cnn: held-out accuracy >= 0.85 from the "
                     "returned probabilities", 2, "framework_training", ("train_keras_cnn",),
                     time_limit=90),
            SubCheck("torch_accuracy", "train_torch_cnn: held-out accuracy >= 0.85 from the "
                     "returned probabilities", 1, "framework_training", ("train_torch_cnn",),
                     time_limit=90),
        )),
        Item("evaluation", "Evaluation metrics", (
            compare("evaluate_binary", "accuracy, precision, recall, ROC-AUC, PR-AUC", 3,
                    "evaluate_binary", "scores_threshold"),
        )),
        Item("comparison", "Comparison of the three models (graded by hand)", manual=True,
             points=4),
    ),
)
