"""Metrics against hand-computed values, and profit thresholds against the closed form."""

import numpy as np
import pytest

from dlcourse import metrics as M
from dlcourse import thresholds as T
from dlcourse.roll import SCHEMA

Y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
PRED = np.array([1, 0, 0, 1, 1, 0, 1, 0])  # TP 3, FN 1, FP 1, TN 3
SCORES = np.array([0.9, 0.1, 0.4, 0.8, 0.6, 0.3, 0.7, 0.2])


def test_confusion_and_ratios():
    np.testing.assert_array_equal(M.confusion_matrix(Y, PRED), [[3, 1], [1, 3]])
    assert M.accuracy(Y, PRED) == 0.75
    assert M.precision(Y, PRED) == 0.75 and M.recall(Y, PRED) == 0.75
    assert M.f1_score(Y, PRED) == 0.75
    assert M.precision(Y, np.zeros_like(Y)) == 0.0  # no positive predictions


def test_multiclass_confusion():
    cm = M.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], num_classes=3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])


def test_roc_auc_is_the_mann_whitney_probability(rng):
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 2)  # rounding creates ties
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert M.roc_auc(y, s) == pytest.approx(pairs.mean(), abs=1e-12)


def test_roc_curve_points():
    fpr, tpr, thr = M.roc_curve(Y, SCORES)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert thr[0] == np.inf and np.all(np.diff(thr) < 0)
    assert M.roc_auc(Y, SCORES) == pytest.approx(15 / 16)


def test_average_precision_by_hand():
    # ranked labels 1 1 1 0 1 0 0 0: precision at each positive 1, 1, 1, 4/5
    assert M.average_precision(Y, SCORES) == pytest.approx((1 + 1 + 1 + 0.8) / 4)
    prec, rec, _ = M.pr_curve(Y, SCORES)
    assert rec[0] == 0 and rec[-1] == 1 and prec[0] == 1


def test_binary_report_is_json_ready():
    report = M.binary_report(Y, SCORES)
    assert set(report) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"}
    assert all(type(v) is float for v in report.values())


def calibrated_case(tau_grid=1000, per_score=200):
    """Scores on a fine grid, each with exactly round(score * per_score) positives."""
    scores = (np.arange(tau_grid) + 0.5) / tau_grid
    positives = np.round(scores * per_score).astype(int)
    y = np.concatenate([np.arange(per_score) < k for k in positives]).astype(int)
    return y, np.repeat(scores, per_score)


@pytest.mark.parametrize("matrix", [
    T.ProfitMatrix(tp=8.0, fp=-2.0),  # tau* = 0.2
    T.ProfitMatrix(tp=100.0, fp=-5.0, tn=1.0, fn=-20.0),
    T.churn_profit_matrix(customer_value=400.0, offer_cost=60.0, success_rate=0.5),  # 0.3
    # a voucher: tp = 0.5 * (400 - 60) = 170, fp = -60, tau* = 60 / 230
    T.churn_profit_matrix(customer_value=400.0, offer_cost=60.0, success_rate=0.5,
                          offer="voucher"),
    T.ProfitMatrix(tp=1.0, fp=-3.0),  # tau* = 0.75
])
def test_sweep_is_within_one_grid_step_of_closed_form(matrix):
    y, scores = calibrated_case()
    step = 0.01
    tau_sweep, best_profit = T.best_threshold_sweep(y, scores, matrix, step=step)
    tau_star = T.best_threshold_closed_form(matrix)
    assert abs(tau_sweep - tau_star) <= step + 1e-12
    assert best_profit == pytest.approx(T.profit(y, scores, tau_sweep, matrix))


def test_profit_curve_matches_direct_profit(rng):
    y = rng.integers(0, 2, 500)
    scores = rng.random(500)
    value = rng.uniform(200, 500, 500)
    matrix = T.churn_profit_matrix(value, offer_cost=50.0, success_rate=0.4)
    thr, profits = T.profit_curve(y, scores, matrix)
    assert len(thr) == 101 and thr[0] == 0 and thr[-1] == 1
    for t, p in zip(thr[::10], profits[::10], strict=True):
        assert p == pytest.approx(T.profit(y, scores, t, matrix))
    per_customer = T.best_threshold_closed_form(matrix)
    np.testing.assert_allclose(per_customer, 50.0 / (0.4 * value))


def test_the_two_offers_differ_only_in_who_pays_for_the_offer():
    """A gift is paid by every targeted customer; a voucher only by those who stay."""
    gift = T.churn_profit_matrix(300.0, offer_cost=40.0, success_rate=0.25)
    voucher = T.churn_profit_matrix(300.0, offer_cost=40.0, success_rate=0.25,
                                    offer="voucher")
    assert (gift.tp, gift.fp) == (0.25 * 300 - 40, -40.0)
    assert (voucher.tp, voucher.fp) == (0.25 * (300 - 40), -40.0)
    assert set(T.OFFERS) == set(SCHEMA["churn_offer"].choices)
    with pytest.raises(ValueError, match="unknown offer"):
        T.churn_profit_matrix(300.0, 40.0, 0.25, offer="coupon")


def test_closed_form_needs_a_sensible_matrix():
    with pytest.raises(ValueError):
        T.best_threshold_closed_form(T.ProfitMatrix(tp=-1.0, fp=-2.0))
