"""Minibatch training loop with history, best-weights tracking and early stopping.

``fit`` works with any ``dlcourse.models.Model`` and any rule in
``dlcourse.optim``. The recorded training loss of an epoch is the mean of
the minibatch losses weighted by batch size, computed before each update:
exactly what Keras reports as ``history["loss"]``, so scratch and Keras
curves can be laid on top of each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlcourse.optim import get_optimizer


@dataclass
class History:
    """Per-epoch records of a ``fit`` run (val_* empty without validation data)."""

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    best_epoch: int = -1  #: 0-based epoch whose weights were kept
    stopped_early: bool = False

    def as_dict(self):
        """Plain dict of the lists, like Keras' ``History.history``."""
        keys = ("loss", "accuracy", "val_loss", "val_accuracy")
        return {k: list(getattr(self, k)) for k in keys if getattr(self, k)}


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
    best_score, best_params, waited = np.inf, model.get_params(), 0

    for epoch in range(epochs):
        total = 0.0
        for idx in iterate_minibatches(len(X), batch_size, rng):
            loss, grads = model.loss(X[idx], y[idx], training=True)
            total += loss * len(idx)
            for name, grad in grads.items():
                model.params[name], configs[name] = update(model.params[name], grad, configs[name])
        history.loss.append(total / len(X))
        history.accuracy.append(float(np.mean(model.predict(X) == y)))
        if X_val is not None:
            val = model.evaluate(X_val, y_val)
            history.val_loss.append(val["loss"])
            history.val_accuracy.append(val["accuracy"])
        score = history.val_loss[-1] if X_val is not None else history.loss[-1]
        if verbose:
            print(f"epoch {epoch + 1:3d}/{epochs}  " + "  ".join(
                f"{k} {v[-1]:.4f}" for k, v in history.as_dict().items()))
        if score < best_score:
            best_score, best_params, waited = score, model.get_params(), 0
            history.best_epoch = epoch
        else:
            waited += 1
            if patience is not None and waited >= patience:
                history.stopped_early = True
                break

    if restore_best:
        model.set_params(best_params)
    return history
