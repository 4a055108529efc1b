"""References: the student contract, answered by the course library (``dlcourse`` is the
reference implementation). :data:`REFERENCES` maps a rubric's reference name to a
function of the same inputs as the student's; :data:`ROLL_REFERENCES` builds one from the
graded roll number's config."""

from __future__ import annotations

import functools

import numpy as np

from dlcourse import augment, conv, layers, metrics, optim, thresholds


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


def reference(ctx, name):
    """The reference function ``name``; a roll-dependent one for ``ctx``'s roll number."""
    if name in ROLL_REFERENCES:
        return ROLL_REFERENCES[name](ctx.config)
    return REFERENCES[name]
