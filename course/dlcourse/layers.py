"""Layers as forward/backward pairs, in the style of CS231n's ``layers.py``.

Every layer is two functions:

- ``*_forward(x, ...) -> (out, cache)`` computes the output and keeps in
  ``cache`` exactly what the backward pass needs;
- ``*_backward(dout, cache) -> grads`` takes the upstream gradient ``dout``
  (same shape as ``out``) and returns the gradient of the loss with respect to
  each input, in the order the forward function takes them.

Losses follow the same contract with a scalar output: ``dout`` is the scalar
upstream gradient (1.0 when the loss is the final output).

Shapes use N for the batch, D for input features, M for output features and
K for classes. Convolution and pooling live in ``dlcourse.conv``.
"""

from __future__ import annotations

import numpy as np

#: Probability clip used by binary cross-entropy; equals ``keras.config.epsilon()``.
BCE_EPSILON = 1e-7

#: Default negative slope of leaky ReLU (PyTorch's default; Keras' is 0.3).
LEAKY_RELU_ALPHA = 0.01


# ----------------------------------------------------------------------------
# Dense (affine) layer
# ----------------------------------------------------------------------------
def dense_forward(x, W, b):
    """Affine layer ``out = x @ W + b``.

    x: (N, D), W: (D, M), b: (M,) -> out: (N, M). cache = (x, W).
    """
    out = x @ W + b
    return out, (x, W)


def dense_backward(dout, cache):
    """dout: (N, M) -> dx: (N, D), dW: (D, M), db: (M,)."""
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# ----------------------------------------------------------------------------
# Activations (elementwise: out and dx have the shape of x, any shape)
# ----------------------------------------------------------------------------
def sigmoid(x):
    """Numerically stable logistic function: never calls exp on a large positive."""
    e = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), shape of x. cache = out."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * s * (1 - s), shape of x."""
    s = cache
    return dout * s * (1.0 - s)


def tanh_forward(x):
    """out = tanh(x), shape of x. cache = out."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - tanh(x)^2), shape of x."""
    t = cache
    return dout * (1.0 - t * t)


def relu_forward(x):
    """out = max(x, 0), shape of x. cache = x."""
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """dx = dout where x > 0 else 0 (the subgradient at 0 is taken as 0)."""
    x = cache
    return dout * (x > 0)


def leaky_relu_forward(x, alpha=LEAKY_RELU_ALPHA):
    """out = x if x > 0 else alpha * x, shape of x. cache = (x, alpha)."""
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    """dx = dout if x > 0 else alpha * dout."""
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha)


#: name -> (forward, backward) for the elementwise activations above.
ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}


# ----------------------------------------------------------------------------
# Dropout (inverted: scale at train time, identity at test time)
# ----------------------------------------------------------------------------
def dropout_forward(x, rate, training=True, rng=None):
    """Inverted dropout with drop probability ``rate`` (Keras' meaning of rate).

    x: any shape -> out: same shape. In training each unit is kept with
    probability ``1 - rate`` and scaled by ``1 / (1 - rate)`` so that the
    expected activation is unchanged; at test time out = x.
    ``rng``: a ``numpy.random.Generator`` or an int seed (fixed seed -> fixed mask).
    cache = mask (same shape as x) or None at test time.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if not training or rate == 0.0:
        return x, None
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    mask = (rng.random(x.shape) >= rate) / (1.0 - rate)
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout * mask (dx = dout at test time)."""
    mask = cache
    return dout if mask is None else dout * mask


# ----------------------------------------------------------------------------
# Flatten
# ----------------------------------------------------------------------------
def flatten_forward(x):
    """x: (N, d1, d2, ...) -> out: (N, d1*d2*...) in C order. cache = x.shape."""
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """dout: (N, d1*d2*...) -> dx: (N, d1, d2, ...)."""
    return dout.reshape(cache)


# ----------------------------------------------------------------------------
# Losses (scalar output; mean over the batch, like Keras and PyTorch)
# ----------------------------------------------------------------------------
def binary_cross_entropy_forward(probs, y, eps=BCE_EPSILON):
    """Mean binary cross-entropy of probabilities, clipped to [eps, 1 - eps].

    probs: (N,) or (N, 1) probabilities; y: labels in {0, 1}, any shape with
    N elements -> loss: float. The clip is Keras' (``eps = 1e-7``), so a
    saturated sigmoid gives a large but finite loss instead of ``inf``.
    cache = (probs, y, eps).
    """
    y = np.asarray(y, dtype=probs.dtype).reshape(probs.shape)
    p = np.clip(probs, eps, 1.0 - eps)
    loss = -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return float(loss), (probs, y, eps)


def binary_cross_entropy_backward(dout, cache):
    """dprobs: shape of probs. Zero where the clip was active, as in Keras/TF."""
    probs, y, eps = cache
    p = np.clip(probs, eps, 1.0 - eps)
    inside = (probs >= eps) & (probs <= 1.0 - eps)
    return dout * inside * (-(y / p) + (1.0 - y) / (1.0 - p)) / probs.size


def log_softmax(logits):
    """Row-wise log-softmax via log-sum-exp. logits: (N, K) -> (N, K)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """Row-wise softmax. logits: (N, K) -> probabilities (N, K)."""
    return np.exp(log_softmax(logits))


def softmax_cross_entropy_forward(logits, y):
    """Mean softmax cross-entropy computed stably with log-sum-exp.

    logits: (N, K) unnormalised scores; y: (N,) integer labels in [0, K)
    -> loss: float. cache = (probs (N, K), y).
    """
    log_probs = log_softmax(logits)
    n = logits.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    return float(loss), (np.exp(log_probs), y)


def softmax_cross_entropy_backward(dout, cache):
    """dlogits: (N, K) = dout * (softmax - onehot(y)) / N."""
    probs, y = cache
    n = probs.shape[0]
    dlogits = probs.copy()
    dlogits[np.arange(n), y] -= 1.0
    return dlogits * (dout / n)
