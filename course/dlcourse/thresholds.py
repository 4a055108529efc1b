"""Business thresholds: profit from a benefit/cost matrix and the best cut-off.

A ``ProfitMatrix`` gives the value (positive = benefit, negative = cost) of
each outcome of a decision made at threshold tau (act when score >= tau):

=========== ================== =====================
            predicted positive predicted negative
=========== ================== =====================
actual 1    tp                 fn
actual 0    fp                 tn
=========== ================== =====================

Entries may be scalars or per-sample arrays (N,), e.g. a churn campaign
where the benefit of saving a customer is their value.

For a *calibrated* score p = P(y=1), acting is worth it when
``p*tp + (1-p)*fp >= p*fn + (1-p)*tn``, i.e. when p is at least

    tau* = (tn - fp) / ((tp - fn) + (tn - fp))        (closed form)

``best_threshold_sweep`` instead tries a grid of thresholds on data and keeps
the most profitable; on calibrated scores the two agree to a grid step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProfitMatrix:
    """Value of each outcome: scalars or arrays of shape (N,)."""

    tp: float | np.ndarray
    fp: float | np.ndarray
    tn: float | np.ndarray = 0.0
    fn: float | np.ndarray = 0.0


#: the two kinds of retention offer (a roll config's ``churn_offer``)
OFFERS = ("gift", "voucher")


def churn_profit_matrix(customer_value, offer_cost, success_rate, offer="gift"):
    """Retention campaign: offer an incentive to customers predicted to churn.

    Compared with doing nothing, a targeted churner (TP) is kept with probability
    ``success_rate``; a targeted loyal customer (FP) stays anyway and takes the offer;
    FN and TN change nothing (0). customer_value: scalar or (N,). ``offer``:

    - ``"gift"``: sent to every targeted customer, paid whether they stay or not:
      TP ``success_rate * customer_value - offer_cost``, FP ``-offer_cost``;
    - ``"voucher"``: paid only when redeemed, by customers who stay:
      TP ``success_rate * (customer_value - offer_cost)``, FP ``-offer_cost``.
    """
    value = np.asarray(customer_value, np.float64)
    if offer == "gift":
        kept = success_rate * value - offer_cost
    elif offer == "voucher":
        kept = success_rate * (value - offer_cost)
    else:
        raise ValueError(f"unknown offer {offer!r}; choose one of {OFFERS}")
    return ProfitMatrix(tp=kept, fp=-float(offer_cost), tn=0.0, fn=0.0)


def profit(y_true, scores, threshold, matrix):
    """Total value of acting on ``scores >= threshold``. y_true, scores: (N,)."""
    act = np.asarray(scores) >= threshold
    pos = np.asarray(y_true) == 1
    n = len(pos)
    tp, fp, tn, fn = (np.broadcast_to(np.asarray(v, np.float64), (n,)) for v in
                      (matrix.tp, matrix.fp, matrix.tn, matrix.fn))
    return float(
        np.sum(np.where(act, np.where(pos, tp, fp), np.where(pos, fn, tn)))
    )


def profit_curve(y_true, scores, matrix, thresholds=None, step=0.01):
    """Total profit at each threshold, vectorised with sorted cumulative sums.

    thresholds: (T,) array; default the grid 0, step, ..., 1.
    -> (thresholds (T,), profits (T,)).
    """
    if thresholds is None:
        thresholds = np.round(np.arange(0.0, 1.0 + step / 2, step), 12)
    thresholds = np.asarray(thresholds, np.float64)
    scores = np.asarray(scores, np.float64)
    pos = np.asarray(y_true) == 1
    n = len(scores)
    tp, fp, tn, fn = (np.broadcast_to(np.asarray(v, np.float64), (n,)) for v in
                      (matrix.tp, matrix.fp, matrix.tn, matrix.fn))
    order = np.argsort(-scores, kind="stable")
    acted = np.r_[0.0, np.cumsum(np.where(pos, tp, fp)[order])]  # value of acting on the top k
    idle = np.r_[0.0, np.cumsum(np.where(pos, fn, tn)[order])]  # value of not acting on them
    # number of samples with score >= t, for every threshold t
    k = n - np.searchsorted(scores[order][::-1], thresholds, side="left")
    return thresholds, acted[k] + (idle[-1] - idle[k])


def best_threshold_sweep(y_true, scores, matrix, thresholds=None, step=0.01):
    """The most profitable threshold on a grid -> (threshold, total profit).

    Ties go to the lowest threshold.
    """
    thr, profits = profit_curve(y_true, scores, matrix, thresholds, step)
    best = int(np.argmax(profits))
    return float(thr[best]), float(profits[best])


def best_threshold_closed_form(matrix):
    """tau* = (tn - fp) / ((tp - fn) + (tn - fp)) for calibrated scores.

    Needs tp > fn and tn > fp (acting helps positives and hurts negatives).
    With per-sample arrays the result is a per-sample threshold (N,).
    """
    gain = np.asarray(matrix.tp, np.float64) - np.asarray(matrix.fn, np.float64)
    loss = np.asarray(matrix.tn, np.float64) - np.asarray(matrix.fp, np.float64)
    if np.any(gain <= 0) or np.any(loss <= 0):
        raise ValueError("closed form needs tp > fn and tn > fp")
    tau = loss / (gain + loss)
    return float(tau) if tau.ndim == 0 else tau


def campaign_profit_for(offer, strict=False):
    """Module 04's ``campaign_profit(y, scores, tau, value, cost, success)`` for one
    ``offer``; ``strict`` leaves out the customers exactly at the threshold (a mistake the
    checker names)."""
    def campaign_profit(y_true, scores, tau, customer_value, offer_cost, success_rate):
        matrix = churn_profit_matrix(customer_value, offer_cost, success_rate, offer)
        return profit(y_true, scores, np.nextafter(tau, np.inf) if strict else tau, matrix)
    return campaign_profit


def best_tau_for(offer):
    """Module 04's ``best_tau(y, scores, value, cost, success)`` for one ``offer``: the
    most profitable threshold on the 0.01 grid."""
    def best_tau(y_true, scores, customer_value, offer_cost, success_rate):
        return best_threshold_sweep(
            y_true, scores, churn_profit_matrix(customer_value, offer_cost, success_rate, offer))
    return best_tau

