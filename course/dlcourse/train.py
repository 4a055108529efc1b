"""Minibatch training loop with history, best-weights tracking and early stopping.

``fit`` works with any ``dlcourse.models.Model`` and any rule in
``dlcourse.optim``. The recorded training loss of an epoch is the mean of
the minibatch losses weighted by batch size, computed before each update:
exactly what Keras reports as ``history["loss"]``, so scratch and Keras
curves can be laid on top of each other.
"""

from __future__ import annotations

import numpy as np

from dlcourse.history import BestEpoch, History
from dlcourse.optim import get_optimizer


def iterate_minibatches(n_samples, batch_size, rng=None):
    """Index arrays covering range(n_samples) in batches; shuffled if ``rng`` is given."""
    order = np.arange(n_samples) if rng is None else rng.permutation(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


def fit(model, X, y, X_val=None, y_val=None, *, optimizer="sgd", learning_rate=1e-2,
        batch_size=32, epochs=10, patience=None, shuffle=True, seed=0,
        restore_best=True, optim_config=None, verbose=False):
    """Train ``model`` in place and return its ``History``.

    X: (N, ...) inputs, y: (N,) labels; X_val, y_val: optional validation set
    used for best weights and early stopping (otherwise the training loss is
    monitored). optimizer: a key of ``optim.OPTIMIZERS``; optim_config: extra
    hyperparameters (momentum, betas, ...). patience: stop after this many
    epochs without improvement (None = never). restore_best: finish with the
    weights of the best epoch. shuffle uses Generator(PCG64(seed)).
    """
    update = get_optimizer(optimizer)
    configs = {
        name: {"learning_rate": learning_rate, **(optim_config or {})} for name in model.params
    }
    rng = np.random.Generator(np.random.PCG64(seed)) if shuffle else None
    history = History()
    best = BestEpoch(history, model.get_params(), patience)

    for epoch in range(epochs):
        total = 0.0
        for idx in iterate_minibatches(len(X), batch_size, rng):
            loss, grads = model.loss(X[idx], y[idx], training=True)
            total += loss * len(idx)
            for name, grad in grads.items():
                model.params[name], configs[name] = update(model.params[name], grad, configs[name])
        accuracy = float(np.mean(model.predict(X) == y))
        val = model.evaluate(X_val, y_val) if X_val is not None else None
        score = history.record(total / len(X), accuracy, val)
        if verbose:
            history.print_epoch(epoch, epochs)
        if best.update(epoch, score, model.get_params):
            break

    if restore_best:
        model.set_params(best.weights)
    return history
