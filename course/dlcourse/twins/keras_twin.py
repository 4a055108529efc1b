"""Keras 3 twin of a scratch model (imports keras when this module is imported).

``configure_keras()`` first (float64, deterministic ops), then
``to_keras(model)`` -> a ``keras.Model`` with the scratch weights copied in.
Image inputs must be given NHWC (``dlcourse.twins.to_nhwc``).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from dlcourse.conv import resolve_padding  # noqa: E402
from dlcourse.layers import LEAKY_RELU_ALPHA  # noqa: E402
from dlcourse.twins import dense_kernel_after_flatten, flatten_sources  # noqa: E402


def configure_keras(float64=True, deterministic=True, seed=0):
    """Set Keras' float type and, on TensorFlow, deterministic ops and seeds."""
    if float64:
        keras.config.set_floatx("float64")
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _translate(layer, shape, params, flattened_from=None):
    """Keras layers and their weights for one scratch layer.

    shape: per-sample NCHW (or (D,)) shape entering the layer; flattened_from:
    the (C, H, W) shape a preceding flatten consumed, if any.
    -> list of (keras layer, weights list or None).
    """
    kind, opts = layer.kind, layer.options
    if kind == "dense":
        W, b = (params[n] for n in layer.params)
        if flattened_from is not None:
            W = dense_kernel_after_flatten(W, flattened_from)
        return [(keras.layers.Dense(W.shape[1]), [W, b])]
    if kind in ("conv", "conv_naive"):
        W, b = (params[n] for n in layer.params)
        f, _, kh, kw = W.shape
        stride, pad = opts.get("stride", 1), opts.get("pad", 0)
        kernel = [W.transpose(2, 3, 1, 0), b]  # (F, C, KH, KW) -> (KH, KW, C, F)
        if pad == "same":  # our "same" is TensorFlow's, including stride > 1
            return [(keras.layers.Conv2D(f, (kh, kw), stride, padding="same"), kernel)]
        top, bottom, left, right = resolve_padding(pad, shape[1], shape[2], kh, kw, stride)
        pad_layer = keras.layers.ZeroPadding2D(((top, bottom), (left, right)))
        return [(pad_layer, None), (keras.layers.Conv2D(f, (kh, kw), stride), kernel)]
    if kind in ("max_pool", "avg_pool"):
        size = opts.get("pool_size", 2)
        cls = keras.layers.MaxPooling2D if kind == "max_pool" else keras.layers.AveragePooling2D
        return [(cls(size, opts.get("stride") or size), None)]
    if kind == "flatten":
        return [(keras.layers.Flatten(), None)]
    if kind == "leaky_relu":
        return [(keras.layers.LeakyReLU(negative_slope=opts.get("alpha", LEAKY_RELU_ALPHA)), None)]
    if kind in ("relu", "tanh", "sigmoid"):
        return [(keras.layers.Activation(kind), None)]
    if kind == "dropout":
        return [(keras.layers.Dropout(opts["rate"]), None)]
    raise ValueError(f"no Keras translation for layer kind {kind!r}")


def to_keras(model):
    """A ``keras.Model`` computing the same function as the scratch ``model``.

    Inputs: (N, D) for an MLP, (N, H, W, C) for a CNN. Outputs as the scratch
    model: probabilities (N, 1) for BCE models, logits (N, K) otherwise.
    """
    shapes = model.layer_input_shapes()
    in_shape = model.input_shape
    inputs = keras.Input(shape=(*in_shape[1:], in_shape[0]) if len(in_shape) == 3 else in_shape)
    x, pending = inputs, []
    for layer, shape, flattened_from in zip(model.layers, shapes, flatten_sources(model), strict=True):
        for keras_layer, weights in _translate(layer, shape, model.params, flattened_from):
            x = keras_layer(x)
            if weights is not None:
                pending.append((keras_layer, weights))
    kmodel = keras.Model(inputs, x)
    for keras_layer, weights in pending:
        keras_layer.set_weights(weights)
    return kmodel


def keras_loss(model):
    """The Keras loss matching ``model.loss_kind`` (BCE clips at epsilon=1e-7 too)."""
    if model.loss_kind == "bce":
        return keras.losses.BinaryCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
