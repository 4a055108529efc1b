"""Foundations (module 01, ``quickstart.ipynb``): 10 points, all automatic."""

from dlcourse.grading.rubrics.base import SCRATCH_BLOCKED, Item, Rubric, SubCheck, compare

RUBRIC = Rubric(
    name="foundations",
    blocked_modules=SCRATCH_BLOCKED,
    items=(
        Item("tensors", "Tensors and broadcasting", (
            compare("center_columns", "center_columns: column means removed, (N, D) with "
                    "N != D", 1, "center_columns", "columns"),
            compare("center_columns_int", "center_columns of an integer array (float "
                    "result)", 1, "center_columns", "int_columns"),
        )),
        Item("compute_graph", "A compute graph by hand", (
            compare("graph_forward", "tiny_graph: f = (w x + b - y)^2", 1, "tiny_graph",
                    "graph", select=0),
            compare("graph_backward", "tiny_graph: df/dw = 2 v x and df/db = 2 v", 2,
                    "tiny_graph", "graph", select=[1, 2]),
        )),
        Item("losses", "Mean squared error and binary cross-entropy", (
            compare("mse", "mse(y, y_hat) = mean((y - y_hat)^2)", 1, "mse", "regression"),
            compare("bce_value", "bce(y, p): mean BCE on ordinary probabilities", 1, "bce",
                    "labels_probs"),
            compare("bce_clip", "bce(y, p): p = 0 and 1 are clipped to [1e-7, 1 - 1e-7]", 1,
                    "bce", "labels_probs_saturated"),
        )),
        Item("reproducibility", "Seeded randomness", (
            compare("seeded_draws", "seeded_draws(seed, n) = default_rng(seed) draws, for a "
                    "seed the checker picks", 1, "seeded_draws", "seed_n", tolerance=1e-12),
            SubCheck("my_draws", "my_draws(n): the draws of your own roll number's seed", 1,
                     "roll_draws", ("my_draws",), tolerance=1e-12),
        )),
    ),
)
