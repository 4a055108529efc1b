"""Generators are bit-identical for a seed: same digest twice and in a subprocess."""

import json

import numpy as np
import pytest

from dlcourse import data as D

GENERATORS = {
    "blobs": lambda seed: D.make_blobs(300, seed=seed),
    "moons": lambda seed: D.make_moons(300, seed=seed),
    "xor": lambda seed: D.make_xor(300, seed=seed),
    "churn": lambda seed: D.make_churn(500, seed=seed),
    "shapes": lambda seed: D.make_shapes(60, seed=seed),
    "bars": lambda seed: D.make_bars(60, seed=seed),
    "crosses": lambda seed: D.make_crosses(60, seed=seed),
}

DIGEST_SNIPPET = """
import hashlib, json
import numpy as np
from dlcourse import data as D

def arrays(result):
    if isinstance(result, D.ChurnData):
        return [result.X, result.y, result.customer_value, result.churn_probability]
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
