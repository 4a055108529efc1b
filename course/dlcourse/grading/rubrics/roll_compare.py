"""Roll compare (module 03, ``roll_compare.ipynb``): 5 points, 3 automatic + 2 by hand.

The spec is checked by behaviour: the checker copies the weights of the roll's MLP into
the student's ``build_keras_mlp`` model and compares its outputs
(``dlcourse.grading.frameworks``).
"""

from dlcourse.grading.rubrics.base import REFERENCE_LIBRARY, Item, Rubric, SubCheck

RUBRIC = Rubric(
    name="roll_compare",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("model_spec", "The Keras MLP computes the roll-derived network", (
            SubCheck("keras_mlp", "build_keras_mlp: with your roll number's MLP weights "
                     "copied in, the same probabilities (hidden units, layers, activations)",
                     3, "framework_mlp", ("build_keras_mlp",), {"framework": "keras"},
                     time_limit=60),
        )),
        Item("discussion", "Scratch vs Keras discussion (graded by hand)", manual=True,
             points=2),
    ),
)
