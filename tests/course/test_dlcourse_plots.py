"""Plot helpers draw labelled, titled axes (needs the `plots` extra)."""

import numpy as np
import pytest

from dlcourse import data, metrics, plots
from dlcourse.train import History

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def labelled(ax):
    return ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_every_helper_labels_its_axes():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.2, 0.8, 0.6, 0.4, 0.3])
    fpr, tpr, _ = metrics.roc_curve(y, s)
    prec, rec, _ = metrics.pr_curve(y, s)
    history = History(loss=[1.0, 0.5], val_loss=[1.1, 0.7])
    axes = [
        plots.plot_history(history),
        plots.plot_roc(fpr, tpr, metrics.roc_auc(y, s)),
        plots.plot_pr(prec, rec, metrics.average_precision(y, s), base_rate=0.6),
        plots.plot_profit_curve([0, 0.5, 1], [0, 2, 1], best=0.5, closed_form=0.45),
        plots.plot_confusion_matrix(metrics.confusion_matrix(y, s >= 0.5), ["stay", "churn"]),
    ]
    assert all(labelled(ax) for ax in axes)
    X, labels = data.make_shapes(6, seed=0)
    assert len(plots.plot_images(X, labels, data.SHAPE_CLASSES, n=4)) == 4
