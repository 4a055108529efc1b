"""Gradient checking with centred differences in float64.

``rel_error(a, b) = ||a - b|| / max(||a|| + ||b||, tiny)`` (Euclidean norms
over the whole array) is the per-parameter error: below 1e-7 means the
analytic gradient is right; around 1e-2 or worse means a bug. Always check
in float64 and keep inputs away from kinks (ReLU at 0, ties in max pooling),
where the numerical derivative is meaningless.
"""

from __future__ import annotations

import numpy as np


def rel_error(analytic, numeric):
    """Norm-ratio error ||a - n|| / (||a|| + ||n||); 0 when both are zero."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function ``f()`` w.r.t. array ``x``.

    ``x`` is perturbed in place (and restored), so ``f`` must read it.
    Returns an array of x's shape: ``(f(x + h e_i) - f(x - h e_i)) / 2h``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_layer(forward, backward, inputs, wrt=None, h=1e-5, seed=0):
    """Per-input errors of a forward/backward pair.

    forward(**inputs) -> (out, cache); backward(dout, cache) returns the
    gradients of the inputs named in ``wrt`` (default: all array inputs, in
    the order given), as one array or a tuple. A random ``dout`` turns the
    output into the scalar ``sum(out * dout)``. Returns {name: rel_error}.
    """
    wrt = list(wrt or [k for k, v in inputs.items() if isinstance(v, np.ndarray)])
    out, cache = forward(**inputs)
    dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    errors = {}
    for name, analytic in zip(wrt, grads, strict=False):
        numeric = numerical_gradient(lambda: np.sum(forward(**inputs)[0] * dout), inputs[name], h)
        errors[name] = rel_error(analytic, numeric)
    return errors


def check_model(model, X, y, h=1e-5):
    """Per-parameter errors of ``model.loss`` on one batch (dropout off).

    Returns {parameter name: rel_error}. The model must be float64.
    """
    _, grads = model.loss(X, y, training=False)

    def loss():
        return model.data_loss(model.forward(X, training=False)[0], y)[0]

    return {
        name: rel_error(grads[name], numerical_gradient(loss, param, h))
        for name, param in model.params.items()
    }
