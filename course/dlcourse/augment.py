"""Label-preserving copies of an image batch (module 06's augmentation, per roll number).

``augment(X, y, kind)`` returns the batch followed by its copies, and the labels
repeated to match: ``kind`` is the roll config's ``cnn_augmentation``.

- ``"flip"``: mirrored left-right, then upside down (2 copies);
- ``"shift_1"`` / ``"shift_2"``: moved 1 or 2 pixels right, left, down and up, in
  that order, the uncovered border filled with zeros (4 copies).

Images are NCHW; both data sets of the lab (bars, crosses) keep their class under
every one of these copies.
"""

from __future__ import annotations

import numpy as np

#: the kinds a roll config can name
KINDS = ("flip", "shift_1", "shift_2")


def shifted(X, dy, dx):
    """``X`` moved ``dy`` pixels down and ``dx`` right (negative: up, left), zero-filled."""
    out = np.zeros_like(X)
    h, w = X.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        X[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def copies(X, kind):
    """The augmented copies of ``X`` (without ``X`` itself), in the documented order."""
    if kind == "flip":
        return [X[..., :, ::-1], X[..., ::-1, :]]
    if kind in ("shift_1", "shift_2"):
        k = int(kind[-1])
        return [shifted(X, 0, k), shifted(X, 0, -k), shifted(X, k, 0), shifted(X, -k, 0)]
    raise ValueError(f"unknown augmentation {kind!r}; choose one of {KINDS}")


def augment(X, y, kind):
    """``(X and its copies, y repeated)``: the training set of an augmented run."""
    X = np.asarray(X, dtype=np.float64)
    extra = copies(X, kind)
    return np.concatenate([X, *extra]), np.tile(np.asarray(y), 1 + len(extra))
