"""CNN from scratch (module 05): 20 points, all automatic; the pooling items and the
learning signal depend on the roll number's ``cnn_pooling``."""

from dlcourse.grading.rubrics.base import SCRATCH_BLOCKED, Item, Rubric, SubCheck, compare

RUBRIC = Rubric(
    name="cnn",
    blocked_modules=SCRATCH_BLOCKED,
    items=(
        Item("conv_forward", "Convolution forward", (
            compare("conv_forward_basic", "stride 1, no padding, 2 channels in, 3 out", 2,
                    "conv_forward", "conv_basic"),
            compare("conv_forward_stride_pad", "stride 2 with padding 1", 2, "conv_forward",
                    "conv_stride_pad"),
        )),
        Item("conv_backward", "Convolution backward", (
            compare("conv_backward_dx", "dx (stride 2, padding 1)", 2, "conv_backward",
                    "conv_backward", select=0),
            compare("conv_backward_dw_db", "dw and db (stride 2, padding 1)", 2,
                    "conv_backward", "conv_backward", select=[1, 2]),
        )),
        Item("pool_forward", "Pooling forward (your roll number's max or avg)", (
            compare("pool_forward", "2x2 pooling, stride 2, of your roll number's "
                    "cnn_pooling", 2, "pool_forward", "pool"),
        )),
        Item("gradient_routes", "Pooling gradient routes (your roll number's max or avg)", (
            compare("pool_backward", "each window's gradient goes to the cells that made "
                    "its output (max: the maximum; avg: every cell, equally)", 3,
                    "pool_backward", "pool_backward"),
        )),
        Item("softmax_ce", "Softmax cross-entropy and its gradient", (
            compare("softmax_ce_loss", "mean loss, stable for large logits", 1, "softmax_ce",
                    "softmax", select=0),
            compare("softmax_ce_grad", "dlogits = (softmax - onehot) / N", 2, "softmax_ce",
                    "softmax", select=1),
        )),
        Item("learning_signal", "Learning signal", (
            SubCheck("cnn_loss_decreases", "train_cnn: last loss < 0.7 x the initial loss, "
                     "and equal to the loss of the returned weights", 2, "cnn_training",
                     ("train_cnn",), {"part": "loss"}, time_limit=60),
            SubCheck("cnn_accuracy", "train_cnn: held-out accuracy >= 0.85 (computed by the "
                     "checker from the returned weights)", 2, "cnn_training", ("train_cnn",),
                     {"part": "accuracy", "min_accuracy": 0.85}, time_limit=60),
        )),
    ),
)
