"""dlcourse.augment: module 06's label-preserving copies, for every kind a roll can draw."""

import numpy as np
import pytest

from dlcourse.augment import KINDS, augment, copies, shifted
from dlcourse.data import make_bars
from dlcourse.roll import SCHEMA


def test_every_kind_the_schema_draws_is_implemented():
    assert set(SCHEMA["cnn_augmentation"].choices) == set(KINDS)
    with pytest.raises(ValueError, match="unknown augmentation"):
        copies(np.zeros((1, 1, 4, 4)), "rotate")


def test_flip_mirrors_left_right_then_upside_down():
    X = np.arange(12.0).reshape(1, 1, 3, 4)
    left_right, upside_down = copies(X, "flip")
    assert left_right[0, 0, 0].tolist() == [3.0, 2.0, 1.0, 0.0]
    assert upside_down[0, 0, :, 0].tolist() == [8.0, 4.0, 0.0]


@pytest.mark.parametrize("k", [1, 2])
def test_shifts_move_right_left_down_up_with_zero_fill(k):
    X = np.zeros((1, 1, 6, 7))
    X[0, 0, 3, 3] = 1.0
    moved = copies(X, f"shift_{k}")
    where = [tuple(np.argwhere(m[0, 0] == 1.0)[0]) for m in moved]
    assert where == [(3, 3 + k), (3, 3 - k), (3 + k, 3), (3 - k, 3)]
    assert all(m.sum() == 1.0 for m in moved)
    edge = np.ones((1, 1, 4, 4))
    assert shifted(edge, 0, k)[0, 0, :, :k].sum() == 0.0  # the uncovered columns are zero


@pytest.mark.parametrize("kind", KINDS)
def test_augment_keeps_the_batch_first_and_repeats_the_labels(kind):
    X, y = np.random.default_rng(0).normal(size=(5, 1, 8, 8)), np.arange(5)
    X_aug, y_aug = augment(X, y, kind)
    n = 1 + len(copies(X, kind))
    assert X_aug.shape == (5 * n, 1, 8, 8) and np.array_equal(X_aug[:5], X)
    assert np.array_equal(y_aug, np.tile(y, n))


def _orientation(X):
    """Per image: how much more the rows differ than the columns (> 0: a horizontal bar)."""
    return X.sum(axis=3).var(axis=2)[:, 0] - X.sum(axis=2).var(axis=2)[:, 0]


@pytest.mark.parametrize("kind", KINDS)
def test_every_copy_of_a_bar_keeps_its_orientation(kind):
    """Bars (the grader's training data) keep their class: no copy turns a horizontal bar
    into a vertical one (the orientation statistic keeps its sign)."""
    X, y = make_bars(200, seed=3, size=8)
    sign = np.sign(_orientation(X))
    assert abs(np.corrcoef(sign, y)[0, 1]) > 0.9  # the statistic reads the class
    for copy in copies(X, kind):
        assert np.mean(np.sign(_orientation(copy)) == sign) > 0.95, kind
