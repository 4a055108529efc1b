"""MLP from scratch (modules 02 and 03): 20 points, 17 automatic + 3 by hand."""

from dlcourse.grading.rubrics.base import SCRATCH_BLOCKED, Item, Rubric, SubCheck, compare

RUBRIC = Rubric(
    name="mlp",
    blocked_modules=SCRATCH_BLOCKED,
    items=(
        Item("forward_sanity", "Forward pass sanity", (
            compare("dense_forward", "dense_forward(x, W, b) = x @ W + b", 1, "dense_forward",
                    "dense"),
            compare("mlp_forward", "my_network: P(y=1), shape (N,), of your roll number's MLP "
                    "(CONFIG['activations'] in order) through mlp_forward", 1, "my_network",
                    "roll_mlp"),
        )),
        Item("activation_derivatives", "Activation derivatives", (
            compare("sigmoid_grad", "sigmoid'(x) = s(1 - s)", 1, "sigmoid_grad", "activation"),
            compare("tanh_grad", "tanh'(x) = 1 - tanh(x)^2", 1, "tanh_grad", "activation"),
            compare("relu_grad", "relu'(x) = 1 where x > 0 else 0", 1, "relu_grad",
                    "activation"),
        )),
        Item("bce_clipping", "Binary cross-entropy and clipping", (
            compare("bce_value", "mean BCE on ordinary probabilities", 1, "bce_loss", "bce"),
            compare("bce_clip", "probabilities 0 and 1 are clipped to [1e-7, 1 - 1e-7]: "
                    "finite loss", 1, "bce_loss", "bce_saturated"),
        )),
        Item("backprop_gradient_checks", "Backprop gradient checks", (
            compare("dense_backward", "dense_backward gives dx, dW, db", 2, "dense_backward",
                    "dense_backward"),
            SubCheck("mlp_backward_1", "mlp_backward matches a centred-difference gradient "
                     "(1 hidden layer, tanh)", 2, "gradcheck", ("mlp_backward",),
                     {"inputs": "mlp_1"}, tolerance=1e-5),
            SubCheck("mlp_backward_2", "mlp_backward matches a centred-difference gradient "
                     "(2 hidden layers, relu then sigmoid)", 2, "gradcheck", ("mlp_backward",),
                     {"inputs": "mlp_2"}, tolerance=1e-5),
        )),
        Item("learning_signal", "Your optimizer, learning signal and tiny-run accuracy", (
            compare("optimizer_rule", "run_optimizer: four updates by your roll number's "
                    "optimizer (CONFIG['optimizer']), its state kept between steps", 2,
                    "run_optimizer", "optimizer_steps", tolerance=1e-9),
            SubCheck("loss_decreases", "train_mlp: last loss < 0.6 x the initial loss, and "
                     "equal to the loss of the returned weights", 1, "mlp_training",
                     ("train_mlp",), {"part": "loss"}, time_limit=60),
            SubCheck("tiny_run_accuracy", "train_mlp: held-out accuracy >= 0.9 (computed by "
                     "the checker from the returned weights)", 1, "mlp_training",
                     ("train_mlp",), {"part": "accuracy", "min_accuracy": 0.9}, time_limit=60),
        )),
        Item("presentation", "Presentation and clarity (graded by hand)", manual=True, points=3),
    ),
)
