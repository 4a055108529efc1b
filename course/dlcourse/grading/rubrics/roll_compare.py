"""Roll compare (module 03, ``roll_compare.ipynb``): 5 points, 3 automatic + 2 by hand."""

from dlcourse.grading.rubrics import REFERENCE_LIBRARY, Item, Rubric, SubCheck

MLP_SPEC = SubCheck("mlp_spec", "MLP part of build_model_spec() equals derive_config(roll)", 3,
                    "spec", ("build_model_spec",), {"keys": "mlp"})

RUBRIC = Rubric(
    name="roll_compare",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("model_spec", "The MLP spec matches the roll-derived config", (MLP_SPEC,)),
        Item("discussion", "Scratch vs Keras discussion (graded by hand)", manual=True,
             points=2),
    ),
)
