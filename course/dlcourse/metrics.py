"""Classification metrics, written out so they can be read and checked by hand.

Conventions (the same as scikit-learn): labels are integers, the positive
class is 1, ``scores`` are P(y=1) or any score where larger means "more
positive"; a sample is predicted positive when ``score >= threshold``. A
ratio whose denominator is zero is reported as 0.0.
"""

from __future__ import annotations

import numpy as np


def _ratio(num, den):
    return float(num / den) if den else 0.0


def accuracy(y_true, y_pred):
    """Fraction of equal labels. y_true, y_pred: (N,)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts (K, K): row = true class, column = predicted class.

    For binary labels: [[TN, FP], [FN, TP]].
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    k = num_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    return np.bincount(k * y_true + y_pred, minlength=k * k).reshape(k, k)


def precision(y_true, y_pred):
    """TP / (TP + FP) for the positive class 1."""
    (_, fp), (_, tp) = confusion_matrix(y_true, y_pred, 2)
    return _ratio(tp, tp + fp)


def recall(y_true, y_pred):
    """TP / (TP + FN) for the positive class 1 (true positive rate)."""
    (_, _), (fn, tp) = confusion_matrix(y_true, y_pred, 2)
    return _ratio(tp, tp + fn)


def f1_score(y_true, y_pred):
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN)."""
    (_, fp), (fn, tp) = confusion_matrix(y_true, y_pred, 2)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _ranked_counts(y_true, scores):
    """Cumulative TP and FP when thresholding at each distinct score, high to low."""
    y_true, scores = np.asarray(y_true), np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], y_true[order] == 1
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps, fps, s[last_of_tie]


def roc_curve(y_true, scores):
    """ROC points for every distinct threshold.

    -> fpr (T+1,), tpr (T+1,), thresholds (T+1,) in decreasing order; the
    first point is (0, 0) at threshold +inf.
    """
    tps, fps, thr = _ranked_counts(y_true, scores)
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    return fpr, tpr, np.r_[np.inf, thr]


def auc(x, y):
    """Area under a curve through points (x, y) by the trapezoidal rule (x monotone)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(abs(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2)))


def roc_auc(y_true, scores):
    """Area under the ROC curve: P(score of a random positive > a random negative),
    ties counting one half."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    return auc(fpr, tpr)


def pr_curve(y_true, scores):
    """Precision-recall points for every distinct threshold.

    -> precision (T+1,), recall (T+1,), thresholds (T,) in decreasing order
    of threshold (recall increasing); the first point is (recall 0, precision 1).
    """
    tps, fps, thr = _ranked_counts(y_true, scores)
    prec = np.r_[1.0, tps / (tps + fps)]
    rec = np.r_[0.0, tps / max(tps[-1], 1)]
    return prec, rec, thr


def average_precision(y_true, scores):
    """PR-AUC as average precision: sum over thresholds of (R_k - R_{k-1}) P_k.

    The step-wise sum used by scikit-learn; it does not interpolate, which
    would overestimate the area.
    """
    prec, rec, _ = pr_curve(y_true, scores)
    return float(np.sum(np.diff(rec) * prec[1:]))


pr_auc = average_precision


def binary_report(y_true, scores, threshold=0.5):
    """The course's headline metrics as plain floats (JSON-ready):
    accuracy, precision, recall, f1 at ``threshold``, roc_auc, pr_auc."""
    y_pred = (np.asarray(scores) >= threshold).astype(np.int64)
    return {
        "threshold": float(threshold),
        "accuracy": accuracy(y_true, y_pred),
        "precision": precision(y_true, y_pred),
        "recall": recall(y_true, y_pred),
        "f1": f1_score(y_true, y_pred),
        "roc_auc": roc_auc(y_true, scores),
        "pr_auc": average_precision(y_true, scores),
    }
