"""The checks a rubric's sub-checks name, with their input generators and references.

Everything here runs in the *parent* (the checker): it draws fresh inputs from
its own generator, calls the student's function in the child through
``StudentHost.call``, and compares the plain data that comes back with the
course library's reference (``dlcourse`` is the reference implementation),
using the parent's own, untouched NumPy.

A check is ``check(ctx, sub) -> (passed, message)``; ``CHECKS`` maps the names
used in ``dlcourse.grading.rubrics`` to these functions (``registry.CHECKS`` joins
them with the checks of ``frameworks`` and ``projects``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from dlcourse import augment, conv, data, layers, metrics, optim, thresholds
from dlcourse.gradcheck import numerical_gradient, rel_error
from dlcourse.grading.diagnosis import likely_mistake
from dlcourse.roll import derive_config


class NoRollNumber(Exception):
    """A check of a roll-dependent answer was asked for without a roll number."""


@dataclass
class Context:
    """What every check gets: the host, a generator, the roll number and a call cache."""

    host: object
    rng: np.random.Generator
    roll_number: str | None
    timeout: float | None = None
    cache: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # numbers measured here, signed in the stamp

    @property
    def config(self) -> dict:
        """``derive_config`` of the roll number the service graded (never the notebook's)."""
        if not self.roll_number:
            raise NoRollNumber("no roll number: an answer that depends on it cannot be "
                               "checked")
        return derive_config(self.roll_number)

    def call(self, sub, fn, *args, key=None, **kwargs):
        """Call the student's ``fn`` (cached under ``key`` so sibling sub-checks share it)."""
        if key is not None and key in self.cache:
            return self.cache[key]
        limit = self.timeout if self.timeout is not None else sub.time_limit
        result = self.host.call(fn, *args, timeout=limit, **kwargs)
        if key is not None:
            self.cache[key] = result
        return result


# ----------------------------------------------------------------------------
# Comparison of returned data (parent side, strict about types)
# ----------------------------------------------------------------------------
def mismatch(got, want, tol, path="result"):
    """None if ``got`` matches ``want`` within ``tol``, else a short reason."""
    if isinstance(want, dict):
        if type(got) is not dict:
            return f"{path} should be a dict, got {type(got).__name__}"
        missing = [k for k in want if k not in got]
        if missing:
            return f"{path} is missing keys {missing}"
        for k in want:
            reason = mismatch(got[k], want[k], tol, f"{path}[{k!r}]")
            if reason:
                return reason
        return None
    if isinstance(want, tuple | list):
        if type(got) is not list or len(got) != len(want):
            return f"{path} should be a tuple of {len(want)} values"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            reason = mismatch(g, w, tol, f"{path}[{i}]")
            if reason:
                return reason
        return None
    if isinstance(want, np.ndarray):
        if type(got) is not np.ndarray:
            return f"{path} should be a numpy array, got {type(got).__name__}"
        if got.shape != want.shape:
            return f"{path} has shape {got.shape}, expected {want.shape}"
        got = got.astype(np.float64)
        if not np.all(np.isfinite(got)):
            return f"{path} contains NaN or inf"
        if not np.allclose(got, want, rtol=tol, atol=tol):
            worst = float(np.max(np.abs(got - want)))
            return f"{path} differs from the reference (max abs error {worst:.3g})"
        return None
    if want is None or isinstance(want, str | bool):  # labels and flags: exactly equal
        if type(got) is not type(want) or got != want:
            return f"{path} = {got!r}, expected {want!r}"
        return None
    # a scalar: a Python number or a 0-d/size-1 array
    if type(got) is np.ndarray and got.size == 1:
        got = float(got.reshape(()))
    if type(got) not in (int, float):
        return f"{path} should be a number, got {type(got).__name__}"
    if not np.isfinite(got):
        return f"{path} is not finite ({got})"
    if abs(got - float(want)) > tol * (1.0 + abs(float(want))):
        return f"{path} = {got:.6g}, expected {float(want):.6g}"
    return None


# ----------------------------------------------------------------------------
# Input generators: rng -> (args, kwargs)
# ----------------------------------------------------------------------------
def _mlp_params(rng, sizes):
    params = {}
    for i, (d, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0, 1 / np.sqrt(d), (d, m))
        params[f"b{i}"] = rng.normal(0, 0.1, m)
    return params


def _mlp_inputs(rng, sizes, activations, n=12):
    X = rng.normal(size=(n, sizes[0]))
    y = (rng.random(n) < 0.5).astype(np.float64)
    return X, y, _mlp_params(rng, sizes), list(activations)


def _conv_inputs(rng, stride, pad):
    x = rng.normal(size=(2, 2, 7, 7))
    w = rng.normal(size=(3, 2, 3, 3))
    b = rng.normal(size=3)
    return x, w, b, stride, pad


def _labels_scores(rng, n=200):
    y = (rng.random(n) < 0.35).astype(np.int64)
    scores = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    scores = np.round(scores, 2)  # ties on purpose
    return y, scores


def _profit_inputs(rng):
    y, scores = _labels_scores(rng)
    value = np.round(rng.uniform(100, 900, len(y)), 2)
    return y, scores, value, float(rng.uniform(20, 60)), float(rng.uniform(0.2, 0.5))


KINKED = ("relu", "leaky_relu")


def _nearest_kink(X, params, activations):
    """Smallest |pre-activation| of a kinked hidden layer (inf when there is none)."""
    h, nearest = X, np.inf
    for i, name in enumerate(activations, start=1):
        z = layers.dense_forward(h, params[f"W{i}"], params[f"b{i}"])[0]
        if name in KINKED:
            nearest = min(nearest, float(np.abs(z).min()))
        h = layers.ACTIVATIONS[name][0](z)[0]
    return nearest


def _inputs_mlp_backward(rng, sizes, activations, margin=1e-3):
    """Inputs for a gradient check, drawn again while a ReLU pre-activation lies within
    ``margin`` of 0, where a centred difference straddles the kink and a right
    ``mlp_backward`` would fail (roughly 1 draw in 1000 otherwise)."""
    while True:
        X, y, params, acts = _mlp_inputs(rng, sizes, activations)
        if _nearest_kink(X, params, acts) > margin:
            return (X, y, params, acts), {}


INPUTS = {
    "dense": lambda r: ((r.normal(size=(5, 4)), r.normal(size=(4, 3)), r.normal(size=3)), {}),
    "mlp_params": lambda r: ((lambda X, y, p, a: (X, p, a))(
        *_mlp_inputs(r, (3, 6, 5, 1), ("tanh", "relu"))), {}),
    "activation": lambda r: ((r.normal(0, 3, (6, 5)) + 0.05,), {}),
    "bce": lambda r: ((r.uniform(0.05, 0.95, 20), (r.random(20) < 0.5).astype(np.float64)), {}),
    "bce_saturated": lambda r: ((np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.9]),
                                 np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])), {}),
    "dense_backward": lambda r: ((r.normal(size=(5, 3)), r.normal(size=(5, 4)),
                                  r.normal(size=(4, 3))), {}),
    "mlp_1": lambda r: _inputs_mlp_backward(r, (3, 5, 1), ("tanh",)),
    "mlp_2": lambda r: _inputs_mlp_backward(r, (4, 6, 5, 1), ("relu", "sigmoid")),
    "conv_basic": lambda r: (_conv_inputs(r, 1, 0), {}),
    "conv_stride_pad": lambda r: (_conv_inputs(r, 2, 1), {}),
    "conv_backward": lambda r: ((r.normal(size=(2, 3, 4, 4)), *_conv_inputs(r, 2, 1)), {}),
    "pool": lambda r: ((r.normal(size=(2, 3, 6, 6)), 2), {}),
    "pool_backward": lambda r: ((r.normal(size=(2, 3, 3, 3)), r.normal(size=(2, 3, 6, 6)), 2),
                                {}),
    "softmax": lambda r: ((r.normal(0, 3, (6, 4)) + np.array([0, 0, 800.0, 0]),
                           r.integers(0, 4, 6)), {}),
    "hard_predictions": lambda r: ((lambda y, s: (y, (s >= 0.5).astype(np.int64)))(
        *_labels_scores(r)), {}),
    "scores": lambda r: (_labels_scores(r), {}),
    # tau = the median score: a value some scores equal (>= vs >), with both classes above it
    "profit": lambda r: ((lambda y, s, v, c, p: (y, s, float(np.sort(s)[len(s) // 2]), v, c,
                                                 p))(*_profit_inputs(r)), {}),
    "tau": lambda r: (_profit_inputs(r), {}),
    "scores_threshold": lambda r: ((*_labels_scores(r), 0.4), {}),
    # module 01 (foundations): columns on different scales, N != D
    "columns": lambda r: ((r.normal(size=(7, 3)) * r.uniform(0.5, 3.0, 3)
                           + r.uniform(-10, 10, 3),), {}),
    "int_columns": lambda r: ((r.integers(-20, 21, (5, 4)),), {}),
    "graph": lambda r: (tuple(float(v) for v in np.round(r.uniform(-2, 2, 4), 3)), {}),
    "regression": lambda r: ((r.normal(size=15), r.normal(size=15)), {}),
    "labels_probs": lambda r: (((r.random(20) < 0.5).astype(np.float64),
                                r.uniform(0.05, 0.95, 20)), {}),
    "labels_probs_saturated": lambda r: ((np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0]),
                                          np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.9])), {}),
    "seed_n": lambda r: ((int(r.integers(2**31)), int(r.integers(3, 9))), {}),
    # module 03: one parameter, four gradients of changing size, a rate the checker picks
    "optimizer_steps": lambda r: ((r.normal(size=(3, 4)),
                                   [r.normal(size=(3, 4)) * r.uniform(0.2, 3) for _ in range(4)],
                                   float(np.round(r.uniform(0.01, 0.1), 4))), {}),
    # module 06: a small NCHW batch, not square (rows and columns told apart), and labels
    "images_labels": lambda r: ((r.normal(size=(3, 1, 6, 7)), r.integers(0, 2, 3)), {}),
}


def _roll_mlp_inputs(rng, config):
    """X (12, 3) and the parameters of the roll's MLP: its hidden units and layers."""
    sizes = (3, *[config["hidden_units"]] * config["num_hidden_layers"], 1)
    return (rng.normal(0, 1.5, (12, 3)), _mlp_params(rng, sizes)), {}


#: input generators of answers that depend on the roll number: (rng, config) -> inputs
ROLL_INPUTS = {
    "roll_mlp": _roll_mlp_inputs,
}


# ----------------------------------------------------------------------------
# References: the student contract, answered by the course library
# ----------------------------------------------------------------------------
def ref_mlp_forward(X, params, activations):
    """P(y=1) of an MLP with the given hidden activations and a sigmoid output: (N,)."""
    h = X
    for i, name in enumerate(activations, start=1):
        h = layers.ACTIVATIONS[name][0](layers.dense_forward(h, params[f"W{i}"],
                                                             params[f"b{i}"])[0])[0]
    last = len(activations) + 1
    z = layers.dense_forward(h, params[f"W{last}"], params[f"b{last}"])[0]
    return layers.sigmoid(z).reshape(-1)


def _act_grad(name):
    def grad(x):
        out, cache = layers.ACTIVATIONS[name][0](x)
        return layers.ACTIVATIONS[name][1](np.ones_like(out), cache)
    return grad


def _conv_backward(dout, x, w, b, stride, pad):
    _, cache = conv.conv2d_forward(x, w, b, stride, pad)
    return conv.conv2d_backward(dout, cache)


def _softmax_ce(logits, y):
    loss, cache = layers.softmax_cross_entropy_forward(logits, y)
    return loss, layers.softmax_cross_entropy_backward(1.0, cache)


def _tiny_graph(x, w, b, y):
    """f = (w x + b - y)^2 and its gradients (df/dw, df/db) by the chain rule."""
    v = w * x + b - y
    return v * v, 2 * v * x, 2 * v


def _evaluate_binary(y, scores, threshold):
    report = metrics.binary_report(y, scores, threshold)
    return {k: report[k] for k in ("accuracy", "precision", "recall", "roc_auc", "pr_auc")}


def _pool_forward(pooling):
    forward = conv.POOLING[pooling][0]
    return lambda x, size: forward(x, size)[0]


def _pool_backward(pooling):
    forward, backward = conv.POOLING[pooling]
    return lambda dout, x, size: backward(dout, forward(x, size)[1])


#: references of answers that depend on the student's roll number: config -> function
ROLL_REFERENCES = {
    "pool_forward": lambda config: _pool_forward(config["cnn_pooling"]),
    "pool_backward": lambda config: _pool_backward(config["cnn_pooling"]),
    "run_optimizer": lambda config: functools.partial(optim.trajectory, config["optimizer"]),
    "my_network": lambda config: functools.partial(ref_mlp_forward,
                                                   activations=config["activations"]),
    "campaign_profit": lambda config: thresholds.campaign_profit_for(config["churn_offer"]),
    "best_tau": lambda config: thresholds.best_tau_for(config["churn_offer"]),
    "augment": lambda config: functools.partial(augment.augment,
                                                kind=config["cnn_augmentation"]),
}

REFERENCES = {
    "dense_forward": lambda x, W, b: layers.dense_forward(x, W, b)[0],
    "mlp_forward": ref_mlp_forward,
    "sigmoid_grad": _act_grad("sigmoid"),
    "tanh_grad": _act_grad("tanh"),
    "relu_grad": _act_grad("relu"),
    "bce_loss": lambda p, y: layers.binary_cross_entropy_forward(p, y)[0],
    "dense_backward": lambda dout, x, W: layers.dense_backward(dout, (x, W)),
    "conv_forward": lambda x, w, b, s, p: conv.conv2d_forward(x, w, b, s, p)[0],
    "conv_backward": _conv_backward,
    "softmax_ce": _softmax_ce,
    "precision_recall": lambda y, p: (metrics.precision(y, p), metrics.recall(y, p)),
    "roc_auc": metrics.roc_auc,
    "evaluate_binary": _evaluate_binary,
    # module 01 (foundations)
    "center_columns": lambda X: X - X.mean(axis=0),
    "tiny_graph": _tiny_graph,
    "mse": lambda y, y_hat: float(np.mean((y - y_hat) ** 2)),
    "bce": lambda y, p: layers.binary_cross_entropy_forward(p, y)[0],
    "seeded_draws": lambda seed, n: np.random.default_rng(seed).standard_normal(n),
}


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------
def _select(value, which):
    if which is None:
        return value
    if isinstance(which, int):
        return value[which] if isinstance(value, list | tuple) and len(value) > which else None
    if not isinstance(value, list | tuple) or len(value) <= max(which):
        return None
    return [value[i] for i in which]


def reference(ctx, name):
    """The reference function ``name``; a roll-dependent one for ``ctx``'s roll number."""
    if name in ROLL_REFERENCES:
        return ROLL_REFERENCES[name](ctx.config)
    return REFERENCES[name]


def check_compare(ctx, sub):
    """Call the student's function on fresh inputs; compare with the reference (for a
    roll-dependent answer, the reference of the roll number the service graded)."""
    p = sub.params
    key = (sub.functions[0], p["inputs"])  # sibling sub-checks share one call
    if key not in ctx.cache:
        try:
            ref = reference(ctx, p["reference"])
        except NoRollNumber as missing:
            return False, str(missing)
        args, kwargs = (ROLL_INPUTS[p["inputs"]](ctx.rng, ctx.config)
                        if p["inputs"] in ROLL_INPUTS else INPUTS[p["inputs"]](ctx.rng))
        want = ref(*args, **kwargs)
        ctx.cache[key] = (list(want) if isinstance(want, tuple) else want,
                          ctx.call(sub, sub.functions[0], *args, **kwargs), (args, kwargs))
    want, result, (args, kwargs) = ctx.cache[key]
    if not result.ok and p["reference"] in ROLL_REFERENCES:
        return False, f"{result.error} (called for your roll number's configuration)"
    if not result.ok:
        return False, result.error
    got = result.value
    if "select" in p:
        if _select(got, p["select"]) is None:
            return False, f"{sub.functions[0]}() should return a tuple of {len(want)} values"
        got, want = _select(got, p["select"]), _select(want, p["select"])
    reason = mismatch(got, want, sub.tolerance, f"{sub.functions[0]}()")
    if reason is None:
        return True, "matches the reference"
    hint = likely_mistake(p["reference"], args, kwargs, got, want, sub.tolerance,
                          p.get("select"), config=ctx.config if ctx.roll_number else None)
    return False, f"{reason}; likely: {hint}" if hint else reason


def check_gradcheck(ctx, sub):
    """The student's ``mlp_backward`` against a centred-difference gradient of the
    reference loss, computed in the parent."""
    (X, y, params, acts), _ = INPUTS[sub.params["inputs"]](ctx.rng)
    result = ctx.call(sub, "mlp_backward", X, y, params, acts)
    if not result.ok:
        return False, result.error
    grads = result.value
    if type(grads) is not dict:
        return False, "mlp_backward() should return a dict of gradients keyed like params"
    work = {k: v.copy() for k, v in params.items()}

    def loss():
        return layers.binary_cross_entropy_forward(ref_mlp_forward(X, work, acts), y)[0]

    for name in sorted(work):
        got = grads.get(name)
        if type(got) is not np.ndarray or got.shape != work[name].shape:
            return False, f"gradient {name!r} missing or not an array of shape {work[name].shape}"
        numeric = numerical_gradient(loss, work[name])
        err = rel_error(got, numeric)
        if not err < sub.tolerance:
            return False, f"gradient {name!r}: relative error {err:.2e} (limit {sub.tolerance:g})"
    return True, "analytic and numerical gradients agree"


def _split(X, y, rng, n_test):
    order = rng.permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


#: A training check that falls short on a fresh dataset trains once more on another
#: (a right solution missed the accuracy bar on about 1 dataset in 150); a bug or a
#: made-up curve fails both, and an error or a timeout is not run again.
TRAINING_RUNS = 2


def _learning(ctx, sub, key, run, model, ratio):
    """Shared part of the training checks; the student's function runs once per grading
    (twice when the first run falls short of a bar, see ``TRAINING_RUNS``).

    run() -> (result, (X_train, y_train), (X_test, y_test)).
    model(params, X, y) -> (loss, accuracy), computed here with the reference layers.
    The loss part needs the reported curve to fall below ``ratio`` x its start *and*
    its last value to be the loss the checker computes from the returned weights (a
    made-up curve fails); the accuracy part is measured on data the student never saw.
    """
    runs = ctx.cache.setdefault(key, [])
    for attempt in range(TRAINING_RUNS):
        if attempt == len(runs):
            runs.append(run())
        (passed, message), short_of_a_bar = _judge_training(ctx, sub, key, runs[attempt],
                                                            model, ratio)
        if passed or not short_of_a_bar:
            break
    if attempt:
        message += f" (best of {attempt + 1} fresh datasets)" if passed else \
            f" (and on {attempt} other fresh dataset(s))"
    return passed, message


def _judge_training(ctx, sub, key, one_run, model, ratio):
    """((passed, message), short_of_a_bar) of one training run; ``short_of_a_bar``: the
    run was well-formed and only missed the loss ratio or the accuracy."""
    result, train, test = one_run
    fn = sub.functions[0]
    if not result.ok:
        return (False, result.error), False
    value = result.value
    if type(value) is not list or len(value) != 2 or type(value[0]) is not dict:
        return (False, f"{fn}() should return (params, losses)"), False
    params, losses = value
    try:
        if sub.params["part"] == "loss":
            losses = np.asarray(losses, dtype=np.float64)
            if losses.ndim != 1 or losses.size < 2 or not np.all(np.isfinite(losses)):
                return (False, "losses should be finite, one value before training and per "
                               "epoch"), False
            actual = model(params, *train)[0]
            if not np.isclose(actual, losses[-1], rtol=1e-4, atol=1e-6):
                return (False, f"the last reported loss {losses[-1]:.4f} is not the training "
                               f"loss of the returned weights ({actual:.4f})"), False
            ctx.metrics[f"{key}.final_train_loss"] = float(actual)
            ok = bool(losses[-1] < ratio * losses[0])
            return (ok, f"loss {losses[0]:.4f} -> {losses[-1]:.4f} (needs < {ratio} x "
                        "first)"), True
        acc = float(model(params, *test)[1])
        ctx.metrics[f"{key}.heldout_accuracy"] = acc
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return (False, f"could not evaluate the returned params: {exc}"), False
    limit = sub.params.get("min_accuracy", 0.9)
    return (acc >= limit, f"held-out accuracy {acc:.3f} (needs >= {limit})"), True


def _checked(params, shapes):
    for name, shape in shapes.items():
        value = params.get(name)
        if type(value) is not np.ndarray or value.shape != shape:
            raise ValueError(f"{name!r} should be an array of shape {shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name!r} is not finite")
    return params


def check_mlp_training(ctx, sub):
    """``train_mlp`` on fresh, randomly rotated blobs; the parent scores the weights."""
    hidden, acts = 8, ["tanh"]

    def run():
        X, y = data.make_blobs(300, seed=int(ctx.rng.integers(2**31)), separation=1.5,
                               noise=0.8)
        theta = ctx.rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        X_tr, y_tr, X_te, y_te = _split(X @ rot, y.astype(np.float64), ctx.rng, 100)
        result = ctx.call(sub, "train_mlp", X_tr, y_tr, hidden_units=hidden, activations=acts,
                          learning_rate=0.5, epochs=30, batch_size=32,
                          seed=int(ctx.rng.integers(1000)))
        return result, (X_tr, y_tr), (X_te, y_te)

    def model(params, X, y):
        _checked(params, {"W1": (2, hidden), "b1": (hidden,), "W2": (hidden, 1), "b2": (1,)})
        probs = ref_mlp_forward(X, params, acts)
        loss = layers.binary_cross_entropy_forward(probs, y)[0]
        return loss, metrics.accuracy(y, (probs >= 0.5).astype(np.float64))

    return _learning(ctx, sub, "train_mlp", run, model, ratio=0.6)


CNN_FILTERS, CNN_KERNEL, CNN_SIZE = 4, 3, 8


CNN_LEARNING_RATE, CNN_EPOCHS = 0.4, 8


def cnn_scores(params, X, pooling):
    """Class scores (logits) of the module-05 architecture:
    conv (same padding, stride 1) -> relu -> 2x2 ``pooling`` -> flatten -> dense."""
    h = conv.conv2d_forward(X, params["W_conv"], params["b_conv"], 1, CNN_KERNEL // 2)[0]
    h = conv.POOLING[pooling][0](np.maximum(h, 0), 2)[0]
    return layers.dense_forward(h.reshape(len(X), -1), params["W_fc"], params["b_fc"])[0]


def check_cnn_training(ctx, sub):
    """``train_cnn`` on fresh bar images (the student's layers, so the student's pooling);
    the parent scores the returned weights with the roll number's pooling."""
    flat = CNN_FILTERS * (CNN_SIZE // 2) ** 2
    try:
        pooling = ctx.config["cnn_pooling"]
    except NoRollNumber as missing:
        return False, str(missing)

    def run():
        X, y = data.make_bars(200, seed=int(ctx.rng.integers(2**31)), size=CNN_SIZE)
        X_tr, y_tr, X_te, y_te = _split(X, y, ctx.rng, 60)
        result = ctx.call(sub, "train_cnn", X_tr, y_tr, num_filters=CNN_FILTERS,
                          kernel_size=CNN_KERNEL, learning_rate=CNN_LEARNING_RATE,
                          epochs=CNN_EPOCHS, batch_size=16,
                          seed=int(ctx.rng.integers(1000)))
        return result, (X_tr, y_tr), (X_te, y_te)

    def model(params, X, y):
        _checked(params, {"W_conv": (CNN_FILTERS, 1, CNN_KERNEL, CNN_KERNEL),
                          "b_conv": (CNN_FILTERS,), "W_fc": (flat, 2), "b_fc": (2,)})
        scores = cnn_scores(params, X, pooling)
        loss = layers.softmax_cross_entropy_forward(scores, y)[0]
        return loss, metrics.accuracy(y, scores.argmax(axis=1))

    return _learning(ctx, sub, "train_cnn", run, model, ratio=0.7)


def spec_differences(spec, want, keys):
    """``key=value (your roll number gives ...)`` for every key where ``spec`` differs."""
    wrong = []
    for k in keys:
        got, expected = spec.get(k), want[k]
        same = (isinstance(got, int | float) and not isinstance(got, bool)
                and np.isclose(got, expected)) if isinstance(expected, float) else \
            (type(got) is type(expected) and got == expected)
        if not same:
            wrong.append(f"{k}={got!r} (your roll number gives {expected!r})")
    return wrong


def check_roll_draws(ctx, sub):
    """``my_draws(n)``: the first n N(0, 1) draws of the roll number's ``seed``."""
    if not ctx.roll_number:
        return False, "no roll number: the seed cannot be checked"
    n = int(ctx.rng.integers(3, 9))
    want = np.random.default_rng(derive_config(ctx.roll_number)["seed"]).standard_normal(n)
    result = ctx.call(sub, sub.functions[0], n)
    if not result.ok:
        return False, result.error
    reason = mismatch(result.value, want, sub.tolerance, f"{sub.functions[0]}({n})")
    if reason:
        return False, (f"{reason}: expected the first {n} draws of "
                       "default_rng(CONFIG['seed']) of your roll number")
    return True, "the draws of your roll number's seed"


CHECKS = {
    "compare": check_compare,
    "gradcheck": check_gradcheck,
    "mlp_training": check_mlp_training,
    "cnn_training": check_cnn_training,
    "roll_draws": check_roll_draws,
}
