"""The roll's MLP in NumPy (module 03's roll compare), the reference of
``build_keras_mlp``: dense layers with the roll's activations and a sigmoid output, and
the variant a wrong model equals."""

from __future__ import annotations

import numpy as np

from dlcourse.grading.mistakes import network_mistakes
from dlcourse.layers import LEAKY_RELU_ALPHA

#: probabilities compared at this tolerance (Keras computes in float32)
MLP_TOLERANCE = 1e-5
#: Keras' default negative slope of ``leaky_relu`` (the course's is LEAKY_RELU_ALPHA)
KERAS_LEAKY_SLOPE = 0.2


def draw_mlp_weights(rng, config, input_dim):
    """``[W1, b1, W2, b2, ...]`` of the roll's MLP; kernels (in, out), as Keras stores them."""
    sizes = [input_dim, *[config["hidden_units"]] * config["num_hidden_layers"], 1]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights += [rng.normal(0, 1.5 / np.sqrt(fan_in), (fan_in, fan_out)),
                    rng.normal(0, 0.3, fan_out)]
    return weights


def mlp_probabilities(X, weights, activations, leaky_slope=LEAKY_RELU_ALPHA):
    """P(y=1), shape (N,), of dense layers with ``activations`` and a sigmoid output."""
    functions = {"relu": lambda z: np.maximum(z, 0.0),
                 "leaky_relu": lambda z: np.where(z > 0, z, leaky_slope * z),
                 "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
    h = X
    for i, name in enumerate(activations):
        h = functions[name](h @ weights[2 * i] + weights[2 * i + 1])
    z = h @ weights[-2] + weights[-1]
    return functions["sigmoid"](z).reshape(-1)


def mlp_mistake(got, X, weights, config):
    """A phrase naming the variant of the roll's MLP the student's outputs equal, or ""."""
    if "leaky_relu" in config["activations"]:
        slope = mlp_probabilities(X, weights, config["activations"], KERAS_LEAKY_SLOPE)
        if np.allclose(got, slope, atol=MLP_TOLERANCE):
            return (f"leaky_relu with Keras' default slope {KERAS_LEAKY_SLOPE}: the course's "
                    f"is {LEAKY_RELU_ALPHA} (keras.layers.LeakyReLU(negative_slope="
                    f"{LEAKY_RELU_ALPHA}))")
    params = {f"{kind}{i // 2 + 1}": w for i, w in enumerate(weights)
              for kind in ("W" if i % 2 == 0 else "b",)}
    for phrase, wrong in network_mistakes(config):
        if np.allclose(got, wrong(X, params), atol=MLP_TOLERANCE):
            return phrase
    return ""


def mlp_shape_differences(got, want, config):
    """Why the student's MLP has other weight shapes than the roll's, as a message."""
    units = [s[1] for s in got[0::2] if len(s) == 2]
    want_units = [config["hidden_units"]] * config["num_hidden_layers"]
    return (f"the dense layers have {units[:-1]} hidden units and {units[-1:]} output: your "
            f"roll number gives {want_units} (CONFIG['hidden_units'], "
            "CONFIG['num_hidden_layers']) and 1 sigmoid output"
            if units else f"weight shapes {got} are not those of dense layers")

