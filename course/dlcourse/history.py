"""What both training loops record: per-epoch ``History`` and best-epoch tracking.

Shared by the reference ``dlcourse.train.fit`` (NumPy) and ``dlcourse.nets.fit``
(PyTorch), so their histories mean the same thing and can be laid on top of each
other. Holds no model code: part of the student build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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

    def record(self, loss, accuracy, val=None):
        """Append one epoch (``val``: ``evaluate``'s dict or None) and return the score
        to monitor: the validation loss when there is one, else the training loss."""
        self.loss.append(loss)
        self.accuracy.append(accuracy)
        if val is not None:
            self.val_loss.append(val["loss"])
            self.val_accuracy.append(val["accuracy"])
            return self.val_loss[-1]
        return self.loss[-1]

    def print_epoch(self, epoch, epochs):
        print(f"epoch {epoch + 1:3d}/{epochs}  " + "  ".join(
            f"{k} {v[-1]:.4f}" for k, v in self.as_dict().items()))


class BestEpoch:
    """Keeps the weights of the lowest score seen and says when patience has run out."""

    def __init__(self, history, weights, patience=None):
        self.history, self.weights, self.patience = history, weights, patience
        self.best_score, self.waited = np.inf, 0

    def update(self, epoch, score, snapshot):
        """After epoch ``epoch``: keep ``snapshot()`` if ``score`` is the best so far;
        True when training should stop early."""
        if score < self.best_score:
            self.best_score, self.weights, self.waited = score, snapshot(), 0
            self.history.best_epoch = epoch
            return False
        self.waited += 1
        if self.patience is not None and self.waited >= self.patience:
            self.history.stopped_early = True
            return True
        return False
