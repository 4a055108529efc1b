"""Generators are bit-identical for a seed: same digest twice and in a subprocess.

The churn campaign's randomised offer: balanced, independent of the features, its
effect recovered by a difference in means and larger for month-to-month customers,
with ``make_churn`` left bit-identical.
"""

import json

import numpy as np
import pytest

from dlcourse import data as D

GENERATORS = {
    "blobs": lambda seed: D.make_blobs(300, seed=seed),
    "moons": lambda seed: D.make_moons(300, seed=seed),
    "xor": lambda seed: D.make_xor(300, seed=seed),
    "churn": lambda seed: D.make_churn(500, seed=seed),
    "churn_campaign": lambda seed: D.make_churn_campaign(500, seed=seed),
    "shapes": lambda seed: D.make_shapes(60, seed=seed),
    "bars": lambda seed: D.make_bars(60, seed=seed),
    "crosses": lambda seed: D.make_crosses(60, seed=seed),
}

DIGEST_SNIPPET = """
import dataclasses, hashlib, json
import numpy as np
from dlcourse import data as D

def arrays(result):
    if isinstance(result, D.ChurnData):
        return [result.X, result.y, result.customer_value, result.churn_probability]
    if isinstance(result, D.ChurnCampaign):
        return [getattr(result, f.name) for f in dataclasses.fields(result)
                if f.name != "feature_names"]
    return list(result)

def digest(result):
    h = hashlib.sha256()
    for a in arrays(result):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()
"""
namespace = {}
exec(DIGEST_SNIPPET, namespace)  # the same digest code in-process and in the subprocess
digest = namespace["digest"]

CALLS = {
    "blobs": "D.make_blobs(300, seed={s})", "moons": "D.make_moons(300, seed={s})",
    "xor": "D.make_xor(300, seed={s})", "churn": "D.make_churn(500, seed={s})",
    "churn_campaign": "D.make_churn_campaign(500, seed={s})",
    "shapes": "D.make_shapes(60, seed={s})", "bars": "D.make_bars(60, seed={s})",
    "crosses": "D.make_crosses(60, seed={s})",
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_bits_different_seed_different_bits(name):
    make = GENERATORS[name]
    assert digest(make(7)) == digest(make(7))
    assert digest(make(7)) != digest(make(8))


def test_same_bits_in_a_subprocess(run_python):
    calls = ", ".join(f"{k!r}: {v.format(s=7)}" for k, v in CALLS.items())
    code = DIGEST_SNIPPET + f"print(json.dumps({{k: digest(v) for k, v in {{{calls}}}.items()}}))"
    assert json.loads(run_python(code)) == {k: digest(GENERATORS[k](7)) for k in CALLS}


@pytest.mark.parametrize("name", ["blobs", "moons", "xor"])
def test_tabular_shapes(name):
    X, y = GENERATORS[name](3)
    assert X.shape == (300, 2) and X.dtype == np.float64
    assert y.shape == (300,) and y.dtype == np.int64 and set(np.unique(y)) == {0, 1}


def test_churn_fields():
    churn = D.make_churn(2000, seed=1)
    assert churn.X.shape == (2000, len(D.CHURN_FEATURES)) and churn.feature_names == D.CHURN_FEATURES
    assert np.all(churn.customer_value > 0)
    assert np.all((churn.churn_probability > 0) & (churn.churn_probability < 1))
    assert 0.2 < churn.y.mean() < 0.6
    # labels were drawn with churn_probability: churners have higher probability on average
    assert churn.churn_probability[churn.y == 1].mean() > churn.churn_probability[churn.y == 0].mean()


#: make_churn's digests from before the campaign generator existed: module 04, the
#: capstone and their checks read this data, so it must not change.
CHURN_DIGESTS = {
    (500, 7): "9bd9d09b604ea3a3b753fc2848f44a9f77835601f06dd19f63d0d5909091a1fe",
    (3000, 123): "101c5e3b843ca23d16077dce5cc85d15ef79be93c79bb95042c11430edcef98c",
}


@pytest.mark.parametrize(("n", "seed"), sorted(CHURN_DIGESTS))
def test_make_churn_stays_bit_identical_beside_the_campaign(n, seed):
    churn = D.make_churn(n, seed=seed)
    assert digest(churn) == CHURN_DIGESTS[n, seed]
    campaign = D.make_churn_campaign(n, seed=seed)
    assert campaign.feature_names == churn.feature_names
    for mine, theirs in ((campaign.X, churn.X), (campaign.customer_value, churn.customer_value),
                         (campaign.churn_probability_control, churn.churn_probability)):
        assert mine.tobytes() == theirs.tobytes()
    control = campaign.treated == 0
    assert np.array_equal(campaign.y[control], churn.y[control])
    # the offer never makes anyone churn: treated labels can only drop
    assert np.all(campaign.y <= churn.y)


def test_churn_campaign_fields():
    campaign = D.make_churn_campaign(2000, seed=1)
    n = len(campaign.y)
    for name in ("y", "treated", "customer_value", "churn_probability_control",
                 "churn_probability_treated", "uplift"):
        assert getattr(campaign, name).shape == (n,), name
    assert campaign.y.dtype == campaign.treated.dtype == np.int64
    assert set(np.unique(campaign.treated)) == {0, 1}
    np.testing.assert_array_equal(
        campaign.uplift, campaign.churn_probability_control - campaign.churn_probability_treated)
    assert np.all(campaign.uplift >= 0) and np.all(campaign.churn_probability_treated > 0)
    with pytest.raises(ValueError, match="treated_fraction"):
        D.make_churn_campaign(100, seed=0, treated_fraction=1.0)


@pytest.mark.parametrize("fraction", [0.5, 0.3])
def test_the_offer_is_assigned_at_random(fraction):
    n = 20_000
    campaign = D.make_churn_campaign(n, seed=0, treated_fraction=fraction)
    treated = campaign.treated == 1
    assert abs(treated.mean() - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / n)
    # balanced arms: every feature's mean differs by under 0.05 standard deviations
    gap = campaign.X[treated].mean(axis=0) - campaign.X[~treated].mean(axis=0)
    assert np.all(np.abs(gap) < 0.05 * campaign.X.std(axis=0)), gap
    # assignment is seeded and differs between seeds
    assert np.array_equal(campaign.treated,
                          D.make_churn_campaign(n, seed=0, treated_fraction=fraction).treated)
    assert not np.array_equal(campaign.treated,
                              D.make_churn_campaign(n, seed=1, treated_fraction=fraction).treated)


def _difference_in_means(y, treated):
    """Churn rate without the offer minus with it, and its standard error."""
    control, offered = y[treated == 0], y[treated == 1]
    return (control.mean() - offered.mean(),
            np.sqrt(control.var() / len(control) + offered.var() / len(offered)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_difference_in_means_recovers_the_mean_uplift(seed):
    campaign = D.make_churn_campaign(40_000, seed=seed)
    estimate, stderr = _difference_in_means(campaign.y, campaign.treated)
    truth = campaign.uplift.mean()
    assert 0.05 < truth < 0.2
    assert abs(estimate - truth) < 4 * stderr, (estimate, truth, stderr)


def test_month_to_month_customers_respond_more_and_long_tenure_barely():
    campaign = D.make_churn_campaign(40_000, seed=3)
    month_to_month = campaign.X[:, D.CHURN_FEATURES.index("month_to_month")] == 1
    tenure = campaign.X[:, D.CHURN_FEATURES.index("tenure_months")]
    true_m2m, true_contract = (campaign.uplift[month_to_month].mean(),
                               campaign.uplift[~month_to_month].mean())
    assert true_m2m > 3 * true_contract
    # the trial shows it too: difference in means within each contract type
    est_m2m, se_m2m = _difference_in_means(campaign.y[month_to_month],
                                           campaign.treated[month_to_month])
    est_contract, se_contract = _difference_in_means(campaign.y[~month_to_month],
                                                     campaign.treated[~month_to_month])
    assert abs(est_m2m - true_m2m) < 4 * se_m2m
    assert abs(est_contract - true_contract) < 4 * se_contract
    assert est_m2m - est_contract > 4 * np.hypot(se_m2m, se_contract)
    # long-standing contract customers barely react; new month-to-month ones most
    assert campaign.uplift[~month_to_month & (tenure > 60)].mean() < 0.01
    assert campaign.uplift[month_to_month & (tenure < 12)].mean() > 0.15
    # the riskiest customers are not the ones the offer moves most
    riskiest = np.argsort(-campaign.churn_probability_control)[: len(tenure) // 10]
    assert campaign.uplift[riskiest].mean() < campaign.uplift.mean()


@pytest.mark.parametrize("name, classes", [("shapes", 3), ("bars", 2), ("crosses", 2)])
def test_images(name, classes):
    X, y = GENERATORS[name](0)
    assert X.shape == (60, 1, 16, 16) and X.dtype == np.float64
    assert np.bincount(y).tolist() == [60 // classes] * classes
    # each class mean image differs: the classes are visually distinct
    means = [X[y == k].mean(axis=0) for k in range(classes)]
    assert min(np.abs(a - b).max() for i, a in enumerate(means) for b in means[i + 1:]) > 0.2


def test_noise_is_standardised():
    z = D._noise(D.make_rng(0), (200_000,))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01 and np.abs(z).max() <= 6


def test_splits_are_disjoint_and_complete():
    train, val, test = D.split_indices(103, 0.2, 0.1, seed=5)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(103))
    assert (len(val), len(test)) == (21, 10)
    X, y = D.make_moons(103, seed=0)
    split = D.train_val_test_split(X, y, 0.2, 0.1, seed=5)
    np.testing.assert_array_equal(split.X_val, X[val])
    with pytest.raises(ValueError):
        D.split_indices(10, 0.6, 0.5)


def test_standardize_uses_training_statistics():
    a = np.array([[1.0, 5.0], [3.0, 5.0]])
    sa, sb = D.standardize(a, np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(sa, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(sb, [[0, 1]])
