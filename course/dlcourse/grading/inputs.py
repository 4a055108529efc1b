"""Input generators: ``rng -> (args, kwargs)`` for a student's function, drawn afresh at
every grading (:data:`INPUTS`), and ``(rng, config) -> (args, kwargs)`` for an answer that
depends on the roll number (:data:`ROLL_INPUTS`)."""

from __future__ import annotations

import numpy as np

from dlcourse import layers


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
