"""The mutation suite as data: buggy or cheating solutions and the points each must lose.

Every mutant patches one function of a reference solution (``modules_testing.Mutant``);
``lost`` lists, per rubric item, exactly the points the checker must take away.
A bug in a helper the student reuses costs every item that calls it, which the
tables below spell out. A variant with an empty ``lost`` (``*_is_honest``) is an honest
variation (another seed, another training recipe, the other capstone track) that must
keep every automatic point.
"""

from modules_testing import ROLL_COMPARE, Mutant

ALWAYS_EQUAL = '''
class AlwaysEqual(np.ndarray):
    """An array that claims to equal anything."""
    def __eq__(self, other):
        return True
    __array_priority__ = 1000
'''

MLP = "m03_mlp_scratch_2"
CNN = "m05_cnn_scratch"
CHURN = "m04_churn_thresholds"
FRAMEWORK = "m06_framework_cnn"

DX_RETURN = "return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db"

MUTANTS = [
    # ---------------------------------------------------------------- MLP (20 pts)
    Mutant("mlp_sigmoid_grad_wrong", MLP, {"activation_derivatives": 1,
                                           "backprop_gradient_checks": 2},
           "sigmoid_grad", '''
def sigmoid_grad(x):
    return sigmoid(x)  # forgot the (1 - s) factor
'''),
    Mutant("mlp_relu_grad_ones", MLP, {"activation_derivatives": 1,
                                       "backprop_gradient_checks": 2},
           "relu_grad", '''
def relu_grad(x):
    return np.ones_like(np.asarray(x, dtype=np.float64))
'''),
    Mutant("mlp_bce_no_clip", MLP, {"bce_clipping": 1}, "bce_loss", edits=(
        ("p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0 - EPS)",
             "p = np.asarray(probs, dtype=np.float64)"),
    )),
    Mutant("mlp_dense_backward_db_mean", MLP, {"backprop_gradient_checks": 6},
           "dense_backward", '''
def dense_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)
'''),
    Mutant("mlp_hard_coded_relu_grad", MLP, {"activation_derivatives": 1,
                                             "backprop_gradient_checks": 2},
           "relu_grad", '''
def relu_grad(x):
    return np.array([0.0, 1.0, 1.0])  # the visible test's answer
'''),
    Mutant("mlp_monkeypatch_allclose", MLP, {"bce_clipping": 1}, "bce_loss", edits=(
        ("p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0 - EPS)",
             "p = np.asarray(probs, dtype=np.float64)"),
    ), append='''
np.allclose = lambda *args, **kwargs: True
np.isfinite = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
'''),
    Mutant("mlp_eq_always_true", MLP, {"forward_sanity": 1, "learning_signal": 1}, "mlp_forward", ALWAYS_EQUAL + '''

def mlp_forward(X, params, activations):
    return np.zeros(len(X)).view(AlwaysEqual)
'''),
    Mutant("mlp_hang_on_saturated_probs", MLP, {"bce_clipping": 1}, "bce_loss", edits=(
        ("    p = np.clip(", "    while np.any((np.asarray(probs) == 0) | (np.asarray(probs) == 1)):\n"
                           "        pass  # an infinite loop: the checker's time limit stops it\n"
                           "    p = np.clip("),
    )),
    Mutant("mlp_crash_in_tanh_grad", MLP, {"activation_derivatives": 1,
                                           "backprop_gradient_checks": 2,
                                           "learning_signal": 2},
           "tanh_grad", '''
def tanh_grad(x):
    import os
    os._exit(3)  # kills the student's process: the checker restarts it
'''),
    Mutant("mlp_gradient_ascent", MLP, {"learning_signal": 2}, "train_mlp", edits=(
        ("params[name] -= learning_rate", "params[name] += learning_rate"),  # wrong sign
    )),
    Mutant("mlp_fake_losses", MLP, {"learning_signal": 2}, "train_mlp", '''
def train_mlp(X, y, hidden_units, activations, learning_rate, epochs, batch_size, seed):
    rng = np.random.default_rng(seed)
    params = init_params([X.shape[1]] + [hidden_units] * len(activations) + [1], rng)
    params = {name: np.zeros_like(value) for name, value in params.items()}
    return params, [0.7 * 0.9 ** e for e in range(epochs + 1)]  # a made-up curve
'''),
    # a classmate's optimizer: the notebook of a roll number whose optimizer differs
    Mutant("mlp_optimizer_of_another_roll", MLP, {"learning_signal": 2}, "optimizer_step",
           append='''
OPTIMIZER = {"sgd": "adam", "momentum": "rmsprop", "rmsprop": "sgd",
             "adam": "momentum"}[CONFIG["optimizer"]]
'''),
    # a classmate's network: the activations of the roll number shifted by one layer
    Mutant("mlp_network_of_another_roll", MLP, {"forward_sanity": 1}, "my_network",
           edits=(('mlp_forward(X, params, CONFIG["activations"])',
                   'mlp_forward(X, params, CONFIG["activations"][1:] + CONFIG["activations"][:1])'),
                  )),
    Mutant("mlp_optimizer_ignores_rate", MLP, {"learning_signal": 2}, "optimizer_step",
           edits=(("    ### BEGIN SOLUTION\n    if OPTIMIZER",
                   "    ### BEGIN SOLUTION\n    learning_rate = 0.01\n    if OPTIMIZER"),)),
    # ---------------------------------------------------------------- CNN (20 pts)
    Mutant("cnn_stride_off_by_one", CNN, {"conv_forward": 2}, "conv_forward", edits=(
        ("oh = (h + 2 * pad - kh) // stride + 1", "oh = (h + 2 * pad - kh + 1) // stride"),
        ("ow = (wd + 2 * pad - kw) // stride + 1", "ow = (wd + 2 * pad - kw + 1) // stride"),
    )),
    Mutant("cnn_conv_true_convolution", CNN, {"conv_forward": 4, "learning_signal": 4},
           "conv_forward", edits=(
               ("w[:, :, i, j])", "w[:, :, kh - 1 - i, kw - 1 - j])"),  # flips the kernel
           )),
    Mutant("cnn_dw_ignores_stride", CNN, {"conv_backward": 2}, "conv_backward", edits=(
        ('"nfij,ncij->fc", dout, xp[:, :, rows, cols]',
         '"nfij,ncij->fc", dout, xp[:, :, i:i + oh, j:j + ow]'),
    )),
    Mutant("cnn_dx_padding_not_removed", CNN, {"conv_backward": 2}, "conv_backward", edits=(
        (DX_RETURN, "return dxp[:, :, :h, :wd], dw, db"),  # wrong crop
    )),
    Mutant("cnn_pool_grad_wrong_cell", CNN, {"gradient_routes": 3, "learning_signal": 0},
           "pool_backward", '''
def pool_backward(dout, x, size):
    dx = np.zeros_like(x, dtype=np.float64)
    dx[:, :, ::size, ::size] = dout  # always the top-left cell (max: not the maximum;
    return dx                        # avg: not shared by the window)
'''),
    Mutant("cnn_pool_stride_one", CNN, {"pool_forward": 2, "learning_signal": 4},
           "pool_forward", '''
def pool_forward(x, size):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h - size + 1, w - size + 1))
    for i in range(size):
        for j in range(size):  # overlapping windows: stride 1 instead of size
            out = out + x[:, :, i:i + h - size + 1, j:j + w - size + 1] / size ** 2
    return out
'''),
    # a classmate's pooling: the notebook of a roll number whose cnn_pooling differs
    Mutant("cnn_pooling_of_another_roll", CNN, {"pool_forward": 2, "gradient_routes": 3,
                                                "learning_signal": 2},
           "pool_forward", edits=(
               ('if CONFIG["cnn_pooling"] == "max":', 'if CONFIG["cnn_pooling"] != "max":'),
           ), append='''
def pool_backward(dout, x, size):
    n, c, h, w = x.shape
    oh, ow = h // size, w // size
    windows = x[:, :, :oh * size, :ow * size].reshape(n, c, oh, size, ow, size)
    if CONFIG["cnn_pooling"] != "max":
        share = windows == windows.max(axis=(3, 5), keepdims=True)
    else:
        share = np.full(windows.shape, 1.0 / (size * size))
    dx = np.zeros_like(x, dtype=np.float64)
    routed = share * dout[:, :, :, None, :, None]
    dx[:, :, :oh * size, :ow * size] = routed.reshape(n, c, oh * size, ow * size)
    return dx
'''),
    Mutant("cnn_softmax_unstable", CNN, {"softmax_ce": 3}, "softmax_ce", '''
def softmax_ce(logits, y):
    with np.errstate(all="ignore"):
        e = np.exp(logits)  # no max-shift: overflows for large logits
        probs = e / e.sum(axis=1, keepdims=True)
        n = len(y)
        loss = -np.log(probs[np.arange(n), y]).mean()
    d = probs.copy()
    d[np.arange(n), y] -= 1.0
    return float(loss), d / n
'''),
    Mutant("cnn_softmax_grad_no_onehot", CNN, {"softmax_ce": 2, "learning_signal": 4},
           "softmax_ce", '''
def softmax_ce(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    return float(-log_probs[np.arange(n), y].mean()), np.exp(log_probs) / n  # no - onehot
'''),
    Mutant("cnn_hard_coded_softmax", CNN, {"softmax_ce": 3, "learning_signal": 4},
           "softmax_ce", '''
def softmax_ce(logits, y):
    return 0.6931471805599453, np.array([[0.5, -0.5]])  # the visible test's answer
'''),
    Mutant("cnn_monkeypatch_allclose", CNN, {"conv_backward": 2}, "conv_backward", edits=(
        (DX_RETURN, "return np.zeros_like(x), dw, db"),  # dx never computed
    ), append='''
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
'''),
    Mutant("cnn_eq_always_true", CNN, {"conv_backward": 4}, "conv_backward", edits=(
        (DX_RETURN, "return np.zeros_like(x).view(AlwaysEqual), dw, db"),
    ), append=ALWAYS_EQUAL),
]

MUTANTS += [
    # ---------------------------------------------------------------- churn (20 pts)
    Mutant("churn_precision_recall_swapped", CHURN, {"metrics": 3}, "precision_recall", '''
def precision_recall(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    tp = float(np.sum(y_true & y_pred))
    return tp / max(np.sum(y_true), 1), tp / max(np.sum(y_pred), 1)  # swapped
'''),
    Mutant("churn_auc_ignores_ties", CHURN, {"metrics": 3}, "roc_auc", '''
def roc_auc(y_true, scores):
    y_true, scores = np.asarray(y_true) == 1, np.asarray(scores, dtype=np.float64)
    pos, neg = scores[y_true], scores[~y_true]
    return float((pos[:, None] > neg[None, :]).mean())  # ties count 0, not 1/2
'''),
    Mutant("churn_answer_key_metrics", CHURN, {"metrics": 3}, "roc_auc", '''
def roc_auc(y_true, scores):
    from dlcourse.metrics import roc_auc as answer_key  # the course's reference
    return answer_key(y_true, scores)
'''),
    Mutant("churn_fp_costs_nothing", CHURN, {"profit_model": 5, "tau_selection": 5},
           "campaign_profit", edits=(("-offer_cost)", "0.0)"),)),
    Mutant("churn_offer_of_another_roll", CHURN, {"profit_model": 5, "tau_selection": 5},
           "campaign_profit", edits=(('if CONFIG["churn_offer"] == "gift":',
                                      'if CONFIG["churn_offer"] != "gift":'),)),
    Mutant("churn_strict_threshold", CHURN, {"profit_model": 5, "tau_selection": 5},
           "campaign_profit", edits=((">= tau", "> tau"),)),  # should be >=
    Mutant("churn_closed_form_tau", CHURN, {"tau_selection": 5}, "best_tau", '''
def best_tau(y_true, scores, customer_value, offer_cost, success_rate):
    # the calibrated-score formula with the average customer value, not a sweep on the data
    tau = round(offer_cost / (success_rate * float(np.mean(customer_value))), 2)
    return tau, campaign_profit(y_true, scores, tau, customer_value, offer_cost, success_rate)
'''),
    Mutant("churn_hard_coded_tau", CHURN, {"tau_selection": 5}, "best_tau", '''
def best_tau(y_true, scores, customer_value, offer_cost, success_rate):
    return 0.0, 10.0  # the visible test's answer
'''),
    Mutant("churn_monkeypatch_allclose", CHURN, {"metrics": 3}, "precision_recall", '''
def precision_recall(y_true, y_pred):
    return 1.0, 1.0
''', append='''
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
'''),
    Mutant("churn_eq_always_true", CHURN, {"metrics": 3}, "roc_auc", ALWAYS_EQUAL + '''

def roc_auc(y_true, scores):
    return np.zeros(()).view(AlwaysEqual)
'''),
    # ------------------------------------------------------------ framework (20 pts)
    Mutant("framework_keras_filters_off", FRAMEWORK, {"model_spec": 3}, "build_keras_cnn",
           edits=(('keras.layers.Conv2D(CONFIG["cnn_filters"],',
                   'keras.layers.Conv2D(CONFIG["cnn_filters"] + 2,'),)),
    Mutant("framework_keras_no_batch_norm", FRAMEWORK, {"model_spec": 3}, "build_keras_cnn",
           edits=(("        keras.layers.BatchNormalization(epsilon=1e-3),\n", ""),)),
    Mutant("framework_keras_relu_before_batch_norm", FRAMEWORK, {"model_spec": 3},
           "build_keras_cnn", edits=(
               ('strides=CONFIG["cnn_stride"], padding="same"),',
                'strides=CONFIG["cnn_stride"], padding="same", activation="relu"),'),
               ("        keras.layers.ReLU(),\n", ""))),
    Mutant("framework_torch_default_epsilon", FRAMEWORK, {"model_spec": 3}, "build_torch_cnn",
           edits=(("nn.BatchNorm2d(filters, eps=1e-3)", "nn.BatchNorm2d(filters)"),)),
    Mutant("framework_torch_stride_of_another_roll", FRAMEWORK, {"model_spec": 3},
           "build_torch_cnn", edits=(
               ('k, s, filters = CONFIG["cnn_kernel_size"], CONFIG["cnn_stride"]',
                'k, s, filters = CONFIG["cnn_kernel_size"], 3 - CONFIG["cnn_stride"]'),)),
    # a classmate's pooling in both models: the builders of a roll number that pools the
    # other way (the trained models still learn the bars)
    Mutant("framework_pooling_of_another_roll", FRAMEWORK, {"model_spec": 6}, "build_keras_cnn",
           append='''
_MINE = dict(CONFIG)
CONFIG = {**_MINE, "cnn_pooling": {"max": "avg", "avg": "max"}[_MINE["cnn_pooling"]]}
'''),
    Mutant("framework_augmentation_of_another_roll", FRAMEWORK, {"training": 2}, "augment",
           edits=(('kind = CONFIG["cnn_augmentation"]',
                   'kind = {"flip": "shift_1", "shift_1": "shift_2", "shift_2": "flip"}'
                   '[CONFIG["cnn_augmentation"]]'),)),
    Mutant("framework_augmentation_without_originals", FRAMEWORK, {"training": 2}, "augment",
           edits=(("return np.concatenate([X, *copies]), np.tile(y, 1 + len(copies))",
                   "return np.concatenate(copies), np.tile(y, len(copies))"),)),
    Mutant("framework_optimizer_of_another_roll", FRAMEWORK, {"training": 1},
           "make_keras_optimizer", edits=(
               ('rule = CONFIG["optimizer"]',
                'rule = {"sgd": "adam", "momentum": "rmsprop", "rmsprop": "sgd", '
                '"adam": "momentum"}[CONFIG["optimizer"]]'),)),
    Mutant("framework_torch_optimizer_ignores_rate", FRAMEWORK, {"training": 1},
           "make_torch_optimizer", edits=(
               ('rule = CONFIG["optimizer"]', 'rule, learning_rate = CONFIG["optimizer"], 0.01'),)),
    Mutant("framework_metrics_swapped", FRAMEWORK, {"evaluation": 3}, "evaluate_binary",
           edits=(('"precision": float(tp / np.sum(flagged))',
                   '"recall": float(tp / np.sum(flagged))'),
                  ('"recall": float(tp / np.sum(positive))',
                   '"precision": float(tp / np.sum(positive))'))),
    Mutant("framework_auc_from_hard_labels", FRAMEWORK, {"evaluation": 3}, "evaluate_binary",
           edits=(("scores = np.asarray(scores, dtype=np.float64)",
                   "scores = (np.asarray(scores) >= threshold).astype(np.float64)"),)),
    Mutant("framework_hard_coded_metrics", FRAMEWORK, {"evaluation": 3}, "evaluate_binary", '''
def evaluate_binary(y_true, scores, threshold=0.5):
    return {"accuracy": 2 / 3, "precision": 1.0, "recall": 0.5, "roc_auc": 1.0,
            "pr_auc": 1.0}
'''),
    Mutant("framework_keras_untrained", FRAMEWORK, {"training": 2}, "train_keras_cnn", '''
def train_keras_cnn(X_train, y_train, X_test):
    return np.full((len(X_test), 2), 0.5)  # skipped training
'''),
    Mutant("framework_keras_train_set_probs", FRAMEWORK, {"training": 2}, "train_keras_cnn", '''
def train_keras_cnn(X_train, y_train, X_test):
    onehot = np.eye(2)[y_train]
    return onehot  # probabilities for the training set, not X_test
'''),
]

MUTANTS += [
    # ------------------------------------------------- roll compare (module 03, 5 pts)
    Mutant("roll_compare_friends_units", MLP, {"model_spec": 3}, "build_keras_mlp", edits=(
        ('keras.layers.Dense(CONFIG["hidden_units"])',
         'keras.layers.Dense(derive_config("CS2024-999")["hidden_units"])'),
    ), notebook=ROLL_COMPARE),
    # the activations shifted by one layer (the roll numbers of the suite have no two
    # layers' activations equal to the shifted ones)
    Mutant("roll_compare_activations_shifted", MLP, {"model_spec": 3}, "build_keras_mlp",
           edits=(('for name in CONFIG["activations"]:',
                   'for name in CONFIG["activations"][1:] + CONFIG["activations"][:1]:'),),
           notebook=ROLL_COMPARE),
    Mutant("roll_compare_one_layer_fewer", MLP, {"model_spec": 3}, "build_keras_mlp", edits=(
        ('for name in CONFIG["activations"]:', 'for name in CONFIG["activations"][:-1]:'),
    ), notebook=ROLL_COMPARE),
]

FOUNDATIONS = "m01_foundations"
EXPERIMENTS = "m07_experimentation"
CAPSTONE = "m08_capstone"

#: run_experiment's shuffle seeded once per process instead of per call (a global RNG)
GLOBAL_RNG = """
RUNS_RNG = np.random.default_rng(0)


def run_experiment(config, learning_rate, epochs=10):
    model = MLP.from_config(config, input_dim=2)
    fit(model, split.X_train, split.y_train, optimizer=config["optimizer"],
        learning_rate=learning_rate, batch_size=config["batch_size"], epochs=epochs,
        seed=int(RUNS_RNG.integers(1000)))  # a new seed on every call
    val = model.evaluate(split.X_val, split.y_val)
    return {"val_accuracy": float(val["accuracy"]), "val_loss": float(val["loss"])}
"""

VISION_PIPELINE = """
def fit_predict(X_train, y_train, X_test, learning_rate=0.01, epochs=15, config=None):
    config = CONFIG if config is None else config
    model = SmallCNN.from_config(config, input_shape=X_train.shape[1:], num_classes=3)
    fit(model, X_train, y_train, optimizer="adam", learning_rate=learning_rate,
        batch_size=32, epochs=epochs, seed=config["seed"])
    return model.predict_proba(X_test)
"""

FIT_SEED = 'patience=5, seed=config["seed"])'

MUTANTS += [
    # -------------------------------------------------- foundations (module 01, 10 pts)
    Mutant("foundations_center_rows", FOUNDATIONS, {"tensors": 2}, "center_columns", """
def center_columns(X):
    return X - X.mean(axis=1, keepdims=True)  # row means, not column means
"""),
    Mutant("foundations_center_in_place", FOUNDATIONS, {"tensors": 1}, "center_columns", """
def center_columns(X):
    X -= X.mean(axis=0)  # in place: fails for integer arrays
    return X
"""),
    Mutant("foundations_graph_dw_without_x", FOUNDATIONS, {"compute_graph": 2}, "tiny_graph",
           edits=(("return f, df_dv * x, df_dv", "return f, df_dv, df_dv"),)),
    Mutant("foundations_hard_coded_graph", FOUNDATIONS, {"compute_graph": 3}, "tiny_graph", """
def tiny_graph(x, w, b, y):
    return 9.0, 12.0, 6.0  # the visible test's answer
"""),
    Mutant("foundations_mse_off_by_one", FOUNDATIONS, {"losses": 1}, "mse", """
def mse(y, y_hat):
    d = np.asarray(y) - np.asarray(y_hat)
    return float(np.sum(d ** 2) / (len(d) - 1))  # n - 1: the sample-variance habit
"""),
    Mutant("foundations_bce_no_clip", FOUNDATIONS, {"losses": 1}, "bce", edits=(
        ("p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)",
         "p = np.asarray(p, dtype=float)"),
    )),
    Mutant("foundations_monkeypatch_allclose", FOUNDATIONS, {"losses": 1}, "mse", """
def mse(y, y_hat):
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(y_hat))))  # MAE, not MSE
""", append="""
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
"""),
    Mutant("foundations_friends_seed", FOUNDATIONS, {"reproducibility": 1}, "my_draws", """
def my_draws(n):
    from dlcourse.roll import derive_config
    return seeded_draws(derive_config("CS2024-999")["seed"], n)  # a classmate's seed
"""),
    Mutant("foundations_global_seed", FOUNDATIONS, {"reproducibility": 2}, "seeded_draws", """
def seeded_draws(seed, n):
    np.random.seed(seed)  # the legacy global generator: other numbers than default_rng
    return np.random.standard_normal(n)
"""),
    Mutant("foundations_blocked_library", FOUNDATIONS, {"losses": 2}, "bce", """
def bce(y, p, eps=1e-7):
    from dlcourse.layers import binary_cross_entropy_forward  # not allowed in module 01
    return binary_cross_entropy_forward(np.asarray(p, dtype=float), y)[0]
"""),
    Mutant("foundations_hang_on_saturated_probs", FOUNDATIONS, {"losses": 1}, "bce", edits=(
        ("    p = np.clip(", "    while np.any((np.asarray(p) == 0) | (np.asarray(p) == 1)):\n"
                             "        pass  # the checker's time limit stops it\n"
                             "    p = np.clip("),
    )),
    Mutant("foundations_crash_in_seeded_draws", FOUNDATIONS, {"reproducibility": 2},
           "seeded_draws", """
def seeded_draws(seed, n):
    import os
    os._exit(3)  # kills the student's process (my_draws calls it too)
"""),
    # ---------------------------------------------- experimentation (module 07, 14 pts)
    Mutant("experiment_train_split", EXPERIMENTS, {"harness": 2}, "run_experiment", edits=(
        ("model.evaluate(split.X_val, split.y_val)",
         "model.evaluate(split.X_train, split.y_train)"),  # training, not validation, numbers
    )),
    Mutant("experiment_ignores_learning_rate", EXPERIMENTS, {"harness": 3},
           "run_experiment", edits=(
               ("learning_rate=learning_rate,", 'learning_rate=config["learning_rate"],'),
           )),
    Mutant("experiment_seeded_once_globally", EXPERIMENTS,
           {"harness": 1, "artifact": 2}, "run_experiment", GLOBAL_RNG),
    Mutant("experiment_unseeded_and_sweep_sorted", EXPERIMENTS,
           {"harness": 1, "sweep": 2, "artifact": 2}, "run_experiment", GLOBAL_RNG, append="""
def sweep(config, rates):
    return [run_experiment(config, lr)["val_accuracy"] for lr in sorted(rates)]
"""),
    Mutant("experiment_sweep_sorted", EXPERIMENTS, {"sweep": 2}, "sweep", """
def sweep(config, rates):
    return [run_experiment(config, lr)["val_accuracy"] for lr in sorted(rates)]
"""),
    Mutant("experiment_hard_coded_sweep", EXPERIMENTS, {"sweep": 2}, "sweep", """
def sweep(config, rates):
    return [0.8, 0.85, 0.9]  # numbers that look plausible
"""),
    Mutant("experiment_ablation_of_another_roll", EXPERIMENTS, {"ablation": 2}, "ablate",
           edits=(('if CONFIG["ablation"] == "depth":', 'if CONFIG["ablation"] != "depth":'),)),
    Mutant("experiment_ablation_forgets_the_copy", EXPERIMENTS, {"ablation": 1}, "ablate", """
def ablate(config):
    return dict(config)  # the config unchanged: nothing ablated
"""),
    Mutant("experiment_friends_config", EXPERIMENTS, {"ablation": 2, "artifact": 2}, "sweep",
           append="""
from dlcourse.roll import derive_config as _derive

CONFIG = _derive("CS2024-999")  # the rest of the study runs on a classmate's config
"""),
    Mutant("experiment_friends_artifact", EXPERIMENTS, {"artifact": 4}, "sweep", append="""
ROLL_NUMBER = "CS2024-999"  # the artifact is written for a classmate's roll number
"""),
    Mutant("experiment_inflated_artifact", EXPERIMENTS, {"artifact": 2}, "sweep", append="""
import dlcourse.artifacts as _artifacts

_write = _artifacts.write_submission


def _better(roll, metrics, **kwargs):  # a valid digest over better-looking numbers
    return _write(roll, {k: v + 0.05 if "accuracy" in k else v for k, v in metrics.items()},
                  **kwargs)


_artifacts.write_submission = _better
"""),
    Mutant("experiment_monkeypatch_allclose", EXPERIMENTS, {"sweep": 2}, "sweep", """
def sweep(config, rates):
    return [run_experiment(config, lr)["val_accuracy"] for lr in reversed(rates)]
""", append="""
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
"""),
    Mutant("experiment_hang_at_rate_zero", EXPERIMENTS, {"harness": 2, "sweep": 2},
           "run_experiment", edits=(
               ("    model = MLP.from_config(", "    while learning_rate == 0:\n"
                                              "        pass  # the checker's time limit\n"
                                              "    model = MLP.from_config("),
           )),
    Mutant("experiment_crash_on_short_runs", EXPERIMENTS, {"harness": 2}, "run_experiment",
           edits=(
               ("    model = MLP.from_config(", "    if epochs < 10:\n"
                                              "        import os\n"
                                              "        os._exit(3)\n"
                                              "    model = MLP.from_config("),
           )),
    Mutant("experiment_other_seed_is_honest", EXPERIMENTS, {}, "run_experiment", edits=(
        ("epochs=epochs, seed=0)", 'epochs=epochs, seed=config["seed"] % 97)'),
    )),
    # -------------------------------------------------- capstone (module 08, 20 pts)
    Mutant("capstone_friends_spec", CAPSTONE, {"model_spec": 2}, "capstone_spec", """
def capstone_spec():
    from dlcourse.roll import derive_config
    friend = derive_config("CS2024-999")  # a classmate's architecture
    return {"track": TRACK, **{key: friend[key] for key in SPEC_KEYS[TRACK]}}
"""),
    Mutant("capstone_spec_wrong_track", CAPSTONE, {"model_spec": 2}, "capstone_spec", """
def capstone_spec():
    return {"track": "vision", **{key: CONFIG[key] for key in SPEC_KEYS["vision"]}}
"""),
    Mutant("capstone_test_statistics", CAPSTONE, {"pipeline": 1}, "fit_predict", edits=(
        ("X_train, X_test = standardize(X_train, X_test)",
         "X_train, X_test = standardize(X_train), standardize(X_test)"),  # test's own stats
    )),
    Mutant("capstone_unseeded", CAPSTONE, {"pipeline": 2, "artifact": 1}, "fit_predict",
           edits=((FIT_SEED, "patience=5, seed=int(np.random.default_rng().integers(1000)))"),)),
    Mutant("capstone_inverted_scores", CAPSTONE, {"pipeline": 2}, "fit_predict", edits=(
        ("return model.predict_proba(X_test)", "return 1.0 - model.predict_proba(X_test)"),
    )),
    Mutant("capstone_hard_coded_scores", CAPSTONE, {"pipeline": 2}, "fit_predict", """
def fit_predict(X_train, y_train, X_test, learning_rate=0.01, epochs=30, config=None):
    return np.full(len(X_test), float(np.mean(y_train)))  # the churn rate for everyone
"""),
    Mutant("capstone_friends_artifact", CAPSTONE, {"artifact": 2}, "fit_predict", append="""
ROLL_NUMBER = "CS2024-999"  # the artifact is written for a classmate's roll number
"""),
    Mutant("capstone_inflated_artifact", CAPSTONE, {"artifact": 1}, "fit_predict", append="""
import dlcourse.artifacts as _artifacts

_write = _artifacts.write_submission


def _better(roll, metrics, **kwargs):  # a valid digest over a better test metric
    return _write(roll, {k: min(1.0, v + 0.05) for k, v in metrics.items()}, **kwargs)


_artifacts.write_submission = _better
"""),
    Mutant("capstone_monkeypatch_allclose", CAPSTONE, {"model_spec": 2}, "capstone_spec", """
def capstone_spec():
    return {"track": TRACK, **{key: CONFIG[key] for key in SPEC_KEYS[TRACK]}, "seed": 0}
""", append="""
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
"""),
    Mutant("capstone_hang_in_spec", CAPSTONE, {"model_spec": 2}, "capstone_spec", """
def capstone_spec():
    while True:
        pass  # the checker's time limit stops it
"""),
    Mutant("capstone_crash_on_large_inputs", CAPSTONE, {"pipeline": 4}, "fit_predict", edits=(
        ("    config = CONFIG if config is None else config",
         "    if len(X_test) > 500:\n"
         "        import os\n"
         "        os._exit(3)  # kills the student's process on the grader's data\n"
         "    config = CONFIG if config is None else config"),
    )),
    Mutant("capstone_vision_track_is_honest", CAPSTONE, {}, "fit_predict", VISION_PIPELINE,
           append='TRACK = "vision"'),
    Mutant("capstone_other_training_is_honest", CAPSTONE, {}, "fit_predict", """
def fit_predict(X_train, y_train, X_test, learning_rate=0.05, epochs=25, config=None):
    config = CONFIG if config is None else config
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-12
    model = MLP.from_config(config, input_dim=X_train.shape[1])
    fit(model, (X_train - mean) / std, y_train, optimizer="momentum",
        learning_rate=learning_rate, batch_size=64, epochs=epochs, seed=config["seed"] + 1)
    return model.predict_proba((X_test - mean) / std)
"""),
]

#: item ids a mutant's grading can leave out because the mutant does not touch them
#: (Keras training takes ~10 s per grading; it runs for the reference and the
#: training mutants only).
SLOW_ITEMS = {FRAMEWORK: ("training",)}

#: mutant id -> words the message of a failed item must hold: the mistake, named
#: (``dlcourse.grading.diagnosis``), so a student learns what to fix, not only that
#: an array differs.
NAMED_MISTAKES = {
    "mlp_sigmoid_grad_wrong": "the derivative is s * (1 - s)",
    "mlp_relu_grad_ones": "the derivative is 0 where x <= 0",
    "mlp_bce_no_clip": "clip the probabilities",
    "mlp_dense_backward_db_mean": "sums dout over the batch",
    "cnn_stride_off_by_one": "// stride + 1",
    "cnn_conv_true_convolution": "the kernel is flipped",
    "cnn_dx_padding_not_removed": "drop pad rows and columns",
    "cnn_pool_grad_wrong_cell": "in the wrong cells",
    "cnn_pool_stride_one": "the step of your window loop",
    "cnn_pooling_of_another_roll": "your roll number's pooling is",
    "mlp_optimizer_of_another_roll": "update: your roll number's optimizer is",
    "mlp_network_of_another_roll": "in another order",
    "cnn_softmax_unstable": "subtract each row's largest logit",
    "cnn_softmax_grad_no_onehot": "subtract the one-hot labels",
    "churn_precision_recall_swapped": "precision and recall are swapped",
    "churn_auc_ignores_ties": "a tie counts as half a pair",
    "churn_strict_threshold": "act on scores >= tau",
    "churn_offer_of_another_roll": "your roll number's offer is a",
    "experiment_ablation_of_another_roll": "your roll number's ablation is",
    "framework_metrics_swapped": "precision and recall are swapped",
    "framework_auc_from_hard_labels": "hard 0/1 predictions",
    "framework_keras_filters_off": "your roll number gives",
    "roll_compare_friends_units": "your roll number gives",
    "roll_compare_activations_shifted": "in another order",
    "roll_compare_one_layer_fewer": "CONFIG['num_hidden_layers']",
    "framework_keras_no_batch_norm": "no batch normalisation",
    "framework_keras_relu_before_batch_norm": "ReLU comes before batch norm",
    "framework_torch_default_epsilon": "epsilon 1e-5",
    "framework_torch_stride_of_another_roll": "your roll number's stride is",
    "framework_pooling_of_another_roll": "your roll number's pooling is",
    "framework_augmentation_of_another_roll": "your roll number's augmentation is",
    "framework_augmentation_without_originals": "the original batch comes first",
    "framework_optimizer_of_another_roll": "update: your roll number's optimizer is",
    "foundations_center_rows": "centre each column (axis=0)",
    "foundations_mse_off_by_one": "the mean divides by n",
    "foundations_bce_no_clip": "clip the probabilities",
    "churn_answer_key_metrics": "may not be used in this lab",
}
