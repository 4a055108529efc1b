"""Seeded synthetic data sets, bit-identical for the same seed on any machine.

Reproducibility rules followed by every generator here:

- randomness comes only from ``numpy.random.Generator(PCG64(seed))`` and only
  through ``rng.random()`` (uniform doubles, an exact function of the PCG64
  stream);
- everything after that is elementwise +, -, *, / and sqrt, which IEEE-754
  rounds exactly, applied in a fixed order. No exp/log/sin/cos (their last
  bit may differ between libm and SIMD builds) and no matrix products (BLAS
  may sum in any order). Hence:
- Gaussian-looking noise is the Irwin-Hall sum of 12 uniforms minus 6
  (mean 0, variance 1, bounded by +-6), and the churn probabilities use the
  softsign link ``p = (1 + z / (1 + |z|)) / 2`` instead of the logistic one;
- a draw added to a generator comes from a stream of its own, so the existing
  outputs stay bit-identical (``make_churn_campaign`` assigns its offer from
  ``PCG64(seed).jumped()``).

Tabular sets return ``X (N, D) float64`` and ``y (N,) int64``; image sets
return ``X (N, 1, H, W) float64`` (NCHW) and ``y (N,) int64``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


def make_rng(seed):
    """The only random source used by this module: Generator(PCG64(seed))."""
    return np.random.Generator(np.random.PCG64(seed))


def _noise(rng, shape):
    """Approximately standard normal noise from uniforms and additions only."""
    u = rng.random((12, *shape))
    z = u[0]
    for row in u[1:]:  # fixed summation order
        z = z + row
    return z - 6.0


def _permutation(rng, n):
    """A random permutation of range(n) (argsort of uniforms; no ties in practice)."""
    return np.argsort(rng.random(n), kind="stable")


def _balanced_labels(rng, n, num_classes):
    """n labels, as balanced as possible over num_classes, in random order."""
    return (np.arange(n) % num_classes)[_permutation(rng, n)].astype(np.int64)


# ----------------------------------------------------------------------------
# Tabular binary classification
# ----------------------------------------------------------------------------
def make_blobs(n_samples=400, seed=0, separation=1.5, noise=1.0):
    """Two Gaussian-like blobs centred at +-(separation, separation / 2).

    -> X (N, 2), y (N,) in {0, 1}, classes balanced.
    """
    rng = make_rng(seed)
    y = _balanced_labels(rng, n_samples, 2)
    sign = 2.0 * y - 1.0
    centre = np.stack([sign * separation, sign * (separation / 2)], axis=1)
    return centre + noise * _noise(rng, (n_samples, 2)), y


def make_moons(n_samples=400, seed=0, noise=0.1):
    """Two interleaving half-circles (the classic "moons").

    Points on each arc use the rational parametrisation
    ``(2t / (1 + t^2), (1 - t^2) / (1 + t^2))``, t uniform in [-1, 1].
    -> X (N, 2), y (N,) in {0, 1}: 0 = upper moon, 1 = lower moon.
    """
    rng = make_rng(seed)
    y = _balanced_labels(rng, n_samples, 2)
    t = 2.0 * rng.random(n_samples) - 1.0
    x0 = 2.0 * t / (1.0 + t * t)
    x1 = (1.0 - t * t) / (1.0 + t * t)
    lower = y == 1
    x0 = np.where(lower, 1.0 - x0, x0)
    x1 = np.where(lower, 0.5 - x1, x1)
    return np.stack([x0, x1], axis=1) + noise * _noise(rng, (n_samples, 2)), y


def make_xor(n_samples=400, seed=0, noise=0.1):
    """XOR: uniform points in [-1, 1]^2, label 1 when both coordinates share a sign.

    Noise is added after labelling. -> X (N, 2), y (N,) in {0, 1}.
    """
    rng = make_rng(seed)
    clean = 2.0 * rng.random((n_samples, 2)) - 1.0
    y = (clean[:, 0] * clean[:, 1] > 0).astype(np.int64)
    return clean + noise * _noise(rng, (n_samples, 2)), y


# ----------------------------------------------------------------------------
# Churn (tabular, with customer value for profit modelling)
# ----------------------------------------------------------------------------
CHURN_FEATURES = (
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "month_to_month",
    "fiber_optic",
    "autopay",
)


@dataclass(frozen=True)
class ChurnData:
    """A churn data set.

    X: (N, 6) features named by ``feature_names``; y: (N,) 1 = churned;
    customer_value: (N,) value of keeping the customer (margin over the next
    24 months, in currency units); churn_probability: (N,) the true
    probability each label was drawn with (for calibration exercises).
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple
    customer_value: np.ndarray
    churn_probability: np.ndarray


def _softsign_probability(z):
    """The churn link: ``(1 + z / (1 + |z|)) / 2``, a probability in (0, 1)."""
    return 0.5 * (1.0 + z / (1.0 + np.abs(z)))


def _churn_customers(n_samples, seed):
    """The customers of ``make_churn``: features, risk score z and the label uniforms.

    -> (columns dict of (N,) arrays, z (N,), u (N,)), all drawn from ``make_rng(seed)``
    in ``make_churn``'s order; a customer churns when ``u < p``.
    """
    rng = make_rng(seed)
    u = rng.random((n_samples, 6))
    columns = {
        "tenure_months": np.floor(1.0 + 72.0 * u[:, 0]),
        "monthly_charges": 20.0 + 100.0 * u[:, 1],
        "support_calls": np.floor(u[:, 2] * u[:, 2] * 10.0),  # skewed towards few calls
        "month_to_month": (u[:, 3] < 0.55).astype(np.float64),
        "fiber_optic": (u[:, 4] < 0.45).astype(np.float64),
        "autopay": (u[:, 5] < 0.4).astype(np.float64),
    }
    z = (
        -1.2
        + 1.6 * columns["month_to_month"]
        + 0.35 * columns["support_calls"]
        + 0.6 * columns["fiber_optic"]
        + 0.015 * (columns["monthly_charges"] - 70.0)
        - 0.04 * (columns["tenure_months"] - 36.0)
        - 0.7 * columns["autopay"]
    )
    return columns, z, rng.random(n_samples)


def make_churn(n_samples=2000, seed=0, margin=0.35, horizon_months=24):
    """Synthetic telecom churn with a known generating model.

    Risk rises with month-to-month contracts, support calls, fibre and high
    charges; falls with tenure and autopay. ``customer_value =
    monthly_charges * margin * horizon_months``. Returns ``ChurnData``.
    """
    columns, z, u = _churn_customers(n_samples, seed)
    p = _softsign_probability(z)
    y = (u < p).astype(np.int64)
    X = np.stack([columns[name] for name in CHURN_FEATURES], axis=1)
    value = columns["monthly_charges"] * margin * horizon_months
    return ChurnData(X, y, CHURN_FEATURES, value, p)


@dataclass(frozen=True)
class ChurnCampaign:
    """A randomised retention campaign run on the customers of ``make_churn``.

    X, feature_names, customer_value: as in ``ChurnData``, the same customers as
    ``make_churn(n_samples, seed)``. treated: (N,) int64, 1 = was made the retention
    offer, assigned at random whatever the features. y: (N,) 1 = churned, observed
    under the customer's own arm: with the offer when treated, without it otherwise
    (for the untreated, ``make_churn``'s label). churn_probability_control /
    churn_probability_treated: (N,) the true churn probability of every customer
    without / with the offer. uplift: (N,) their difference, control minus treated,
    the true drop in churn probability the offer causes (>= 0; what an uplift model
    estimates).
    """

    X: np.ndarray
    y: np.ndarray
    treated: np.ndarray
    feature_names: tuple
    customer_value: np.ndarray
    churn_probability_control: np.ndarray
    churn_probability_treated: np.ndarray
    uplift: np.ndarray


def _campaign_rng(seed):
    """The treatment assignment's own stream: ``PCG64(seed).jumped()``, the same
    generator advanced about 2^127 draws, so assigning the offer leaves every draw of
    ``make_churn(n, seed)`` as it was."""
    return np.random.Generator(np.random.PCG64(seed).jumped())


def make_churn_campaign(n_samples=2000, seed=0, treated_fraction=0.5, offer_effect=2.0,
                        margin=0.35, horizon_months=24):
    """``make_churn``'s customers in a randomised trial of a retention offer.

    Each customer gets the offer with probability ``treated_fraction``, independently
    of the features (a stream of its own: ``make_churn(n_samples, seed)`` stays
    bit-identical). The offer lowers the risk score z of ``make_churn`` by
    ``offer_effect * (0.2 + 0.8 * month_to_month) * (1 - tenure_months / 80)``:
    five times as much for month-to-month customers as for those on a contract,
    fading with tenure (long-standing customers barely react). On the probability
    scale the uplift is largest near a churn probability of 1/2 and small for
    near-certain churners: the riskiest customers are not the ones the offer moves
    most. A customer's outcomes with and without the offer share
    one uniform, so the offer never makes anyone churn. Returns ``ChurnCampaign``.
    """
    if not 0.0 < treated_fraction < 1.0:
        raise ValueError("treated_fraction must be strictly between 0 and 1")
    columns, z, u = _churn_customers(n_samples, seed)
    responsiveness = ((0.2 + 0.8 * columns["month_to_month"])
                      * (1.0 - columns["tenure_months"] / 80.0))
    p_control = _softsign_probability(z)
    p_treated = _softsign_probability(z - offer_effect * responsiveness)
    treated = (_campaign_rng(seed).random(n_samples) < treated_fraction).astype(np.int64)
    y = (u < np.where(treated == 1, p_treated, p_control)).astype(np.int64)
    X = np.stack([columns[name] for name in CHURN_FEATURES], axis=1)
    value = columns["monthly_charges"] * margin * horizon_months
    return ChurnCampaign(X, y, treated, CHURN_FEATURES, value, p_control, p_treated,
                         p_control - p_treated)


# ----------------------------------------------------------------------------
# Small vision sets (N, 1, H, W)
# ----------------------------------------------------------------------------
SHAPE_CLASSES = ("square", "disc", "triangle")
BAR_CLASSES = ("horizontal", "vertical")
CROSS_CLASSES = ("plus", "diagonal")


def _grid(size):
    """Pixel-centre coordinates, each (1, size, size) for broadcasting against (N, 1, 1)."""
    idx = np.arange(size, dtype=np.float64) + 0.5
    return idx[None, :, None], idx[None, None, :]


def _images(masks, rng, noise):
    """Boolean masks (N, H, W) -> noisy float images (N, 1, H, W)."""
    images = masks.astype(np.float64) + noise * _noise(rng, masks.shape)
    return images[:, None, :, :]


def make_shapes(n_samples=300, seed=0, size=16, noise=0.1):
    """Filled squares, discs and upward triangles at random positions and sizes.

    -> X (N, 1, size, size), y (N,) indexes ``SHAPE_CLASSES``.
    """
    rng = make_rng(seed)
    y = _balanced_labels(rng, n_samples, 3)
    u = rng.random((n_samples, 3))[:, :, None, None]
    cy = size * (0.35 + 0.3 * u[:, 0])
    cx = size * (0.35 + 0.3 * u[:, 1])
    s = size * (0.18 + 0.1 * u[:, 2])  # half-size
    r, c = _grid(size)
    dy, dx = r - cy, c - cx
    square = (np.abs(dy) <= s) & (np.abs(dx) <= s)
    disc = dy * dy + dx * dx <= s * s
    triangle = (np.abs(dy) <= s) & (np.abs(dx) <= (dy + s) / 2)
    label = y[:, None, None]
    masks = np.where(label == 0, square, np.where(label == 1, disc, triangle))
    return _images(masks, rng, noise), y


def make_bars(n_samples=300, seed=0, size=16, noise=0.1):
    """One 2-pixel-thick bar across the image, horizontal or vertical.

    -> X (N, 1, size, size), y (N,) indexes ``BAR_CLASSES``.
    """
    rng = make_rng(seed)
    y = _balanced_labels(rng, n_samples, 2)
    pos = np.floor((size - 1) * rng.random(n_samples))[:, None, None]
    r, c = _grid(size)
    horizontal = (r - 0.5 >= pos) & (r - 0.5 < pos + 2)
    vertical = (c - 0.5 >= pos) & (c - 0.5 < pos + 2)
    masks = np.where(y[:, None, None] == 0, horizontal, vertical)
    return _images(masks, rng, noise), y


def make_crosses(n_samples=300, seed=0, size=16, noise=0.1):
    """An upright '+' or a diagonal 'x' with random centre and arm length.

    -> X (N, 1, size, size), y (N,) indexes ``CROSS_CLASSES``.
    """
    rng = make_rng(seed)
    y = _balanced_labels(rng, n_samples, 2)
    u = rng.random((n_samples, 3))[:, :, None, None]
    cy = size * (0.4 + 0.2 * u[:, 0])
    cx = size * (0.4 + 0.2 * u[:, 1])
    arm = size * (0.2 + 0.12 * u[:, 2])
    r, c = _grid(size)
    dy, dx = r - cy, c - cx
    plus = ((np.abs(dy) < 1) & (np.abs(dx) <= arm)) | ((np.abs(dx) < 1) & (np.abs(dy) <= arm))
    in_box = (np.abs(dy) <= arm) & (np.abs(dx) <= arm)
    diagonal = in_box & ((np.abs(dy - dx) < 1) | (np.abs(dy + dx) < 1))
    masks = np.where(y[:, None, None] == 0, plus, diagonal)
    return _images(masks, rng, noise), y


# ----------------------------------------------------------------------------
# Splits and scaling
# ----------------------------------------------------------------------------
class Split(NamedTuple):
    """Train/validation/test arrays; unpacks like a tuple."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split_indices(n_samples, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Seeded disjoint index arrays (train, val, test) covering range(n_samples)."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError("fractions must be >= 0 and sum to less than 1")
    order = _permutation(make_rng(seed), n_samples)
    n_test = int(round(test_fraction * n_samples))
    n_val = int(round(val_fraction * n_samples))
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Split X (N, ...) and y (N,) with ``split_indices``; returns a ``Split``."""
    train, val, test = split_indices(len(X), val_fraction, test_fraction, seed)
    return Split(X[train], y[train], X[val], y[val], X[test], y[test])


def standardize(X_train, *others):
    """Scale columns to zero mean, unit variance using training statistics only.

    X_train: (N, D); others: (M, D) arrays -> the scaled arrays, same order.
    """
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    scaled = tuple((a - mean) / std for a in (X_train, *others))
    return scaled if others else scaled[0]
