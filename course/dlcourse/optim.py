"""First-order optimisers with one interface, in the style of CS231n's ``optim.py``.

Every rule is ``update(w, dw, config=None) -> (next_w, config)``:

- w: a parameter array of any shape; dw: its gradient, same shape;
- config: a dict of hyperparameters *and* state (velocity, moments, step
  count). Pass the returned dict back in on the next step for the same
  parameter; keep one config per parameter. Missing keys get the defaults
  below via ``config.setdefault``.

The rules are the textbook ones; where Keras and PyTorch defaults differ
(epsilon, RMSprop decay) the docstring says which one we follow.
"""

from __future__ import annotations

import numpy as np


def sgd(w, dw, config=None):
    """Plain SGD: ``w <- w - learning_rate * dw``.

    config: learning_rate (default 1e-2).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: ``v <- mu * v - lr * dw; w <- w + v``.

    Identical to Keras ``SGD(momentum=mu)`` and, for a constant learning rate,
    to PyTorch ``SGD(momentum=mu)``.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    """RMSprop: ``c <- rho * c + (1 - rho) * dw^2; w <- w - lr * dw / (sqrt(c) + eps)``.

    config: learning_rate (1e-3), decay_rate (0.9, Keras' rho; PyTorch uses
    0.99), epsilon (1e-7, Keras'), cache (zeros like w).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("decay_rate", 0.9)
    config.setdefault("epsilon", 1e-7)
    cache = config.get("cache", np.zeros_like(w))
    cache = config["decay_rate"] * cache + (1.0 - config["decay_rate"]) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w, dw, config=None):
    """Adam with bias correction (Kingma & Ba, Algorithm 1).

    ``m <- b1 m + (1 - b1) dw``, ``v <- b2 v + (1 - b2) dw^2``,
    ``w <- w - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)``.
    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8,
    PyTorch's), m, v (zeros like w), t (0).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1.0 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1.0 - b2) * dw * dw
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


#: optimiser name (as used in roll configs) -> update rule.
OPTIMIZERS = {"sgd": sgd, "momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


def trajectory(name, w, grads, learning_rate, keep_state=True):
    """``w`` after each update of the rule ``name`` by ``grads`` in turn (a list of
    arrays, one per step), with one config carried from step to step as the rules
    expect; ``keep_state=False`` starts every step afresh (a common mistake)."""
    rule, w, path, config = get_optimizer(name), np.asarray(w, dtype=np.float64), [], None
    for dw in grads:
        if config is None or not keep_state:
            config = {"learning_rate": learning_rate}
        w, config = rule(w, np.asarray(dw, dtype=np.float64), config)
        path.append(w)
    return path


def get_optimizer(name):
    """Return the update rule called ``name`` (one of ``OPTIMIZERS``)."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}") from None
