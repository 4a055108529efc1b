"""Plotting helpers with labelled axes and titles.

matplotlib is imported inside each function (install the ``plots`` extra).
Every helper draws on ``ax`` if given, else on a new figure, and returns the
axes so notebooks can add to it.
"""

from __future__ import annotations

import numpy as np


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 4))[1]


def plot_history(history, metric="loss", ax=None):
    """Training (and validation) ``metric`` per epoch from a History or dict."""
    ax = _axes(ax)
    hist = history.as_dict() if hasattr(history, "as_dict") else history
    epochs = np.arange(1, len(hist[metric]) + 1)
    ax.plot(epochs, hist[metric], label=f"train {metric}")
    if hist.get(f"val_{metric}"):
        ax.plot(epochs, hist[f"val_{metric}"], label=f"validation {metric}")
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
    ax.legend()
    return ax


def plot_roc(fpr, tpr, auc_value=None, ax=None, label="model"):
    """ROC curve with the chance diagonal."""
    ax = _axes(ax)
    name = label if auc_value is None else f"{label} (AUC = {auc_value:.3f})"
    ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve",
           xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right")
    return ax


def plot_pr(precision, recall, ap=None, base_rate=None, ax=None, label="model"):
    """Precision-recall curve (step), with the base rate as reference if given."""
    ax = _axes(ax)
    name = label if ap is None else f"{label} (AP = {ap:.3f})"
    ax.step(recall, precision, where="post", label=name)
    if base_rate is not None:
        ax.axhline(base_rate, linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve",
           xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left")
    return ax


def plot_profit_curve(thresholds, profits, best=None, closed_form=None, ax=None):
    """Total profit against threshold, marking the swept and closed-form optima."""
    ax = _axes(ax)
    ax.plot(thresholds, profits, label="profit")
    if best is not None:
        ax.axvline(best, color="C1", label=f"best sweep tau = {best:.2f}")
    if closed_form is not None:
        ax.axvline(closed_form, color="C2", linestyle="--", label=f"closed form tau = {closed_form:.2f}")
    ax.set(xlabel="decision threshold tau", ylabel="total profit", title="Profit by threshold")
    ax.legend()
    return ax


def plot_confusion_matrix(cm, class_names=None, ax=None):
    """Counts as an annotated heat map: rows = true class, columns = predicted."""
    ax = _axes(ax)
    cm = np.asarray(cm)
    names = class_names or [str(i) for i in range(len(cm))]
    ax.imshow(cm, cmap="Blues")
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, str(count), ha="center", va="center")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names,
           yticklabels=names, xlabel="predicted class", ylabel="true class",
           title="Confusion matrix")
    return ax


def plot_images(X, y=None, class_names=None, n=8):
    """The first ``n`` images of X (N, 1, H, W) in a row, titled by label."""
    import matplotlib.pyplot as plt

    n = min(n, len(X))
    fig, axes = plt.subplots(1, n, figsize=(1.5 * n, 1.8))
    for i, a in enumerate(np.atleast_1d(axes)):
        a.imshow(X[i, 0], cmap="gray")
        a.set_xticks([])
        a.set_yticks([])
        if y is not None:
            a.set_title(class_names[y[i]] if class_names else str(y[i]), fontsize=8)
    fig.suptitle("Sample images")
    return axes
