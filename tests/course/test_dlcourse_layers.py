"""Every layer's backward pass against float64 centred differences."""

import numpy as np
import pytest
from dlcourse_testing import GRAD_TOL as TOL
from dlcourse_testing import assert_all_below

from dlcourse import layers as L
from dlcourse.gradcheck import check_layer, numerical_gradient, rel_error


def away_from_zero(rng, shape, margin=0.1):
    """Values with |x| >= margin, so no input sits on a ReLU kink."""
    return rng.uniform(margin, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def test_dense(rng):
    inputs = {"x": rng.standard_normal((5, 4)), "W": rng.standard_normal((4, 3)),
              "b": rng.standard_normal(3)}
    assert_all_below(check_layer(L.dense_forward, L.dense_backward, inputs))


@pytest.mark.parametrize("name", sorted(L.ACTIVATIONS))
def test_activations(rng, name):
    forward, backward = L.ACTIVATIONS[name]
    inputs = {"x": away_from_zero(rng, (4, 6))}
    assert_all_below(check_layer(forward, backward, inputs))


def test_leaky_relu_slope(rng):
    x = away_from_zero(rng, (3, 3))
    errors = check_layer(lambda x: L.leaky_relu_forward(x, 0.2), L.leaky_relu_backward, {"x": x})
    assert_all_below(errors)
    out, _ = L.leaky_relu_forward(np.array([-2.0, 3.0]), 0.2)
    np.testing.assert_allclose(out, [-0.4, 3.0])


def test_dropout_gradient_and_scaling(rng):
    x = rng.standard_normal((20, 10))
    errors = check_layer(lambda x: L.dropout_forward(x, 0.3, rng=7), L.dropout_backward, {"x": x})
    assert_all_below(errors)
    big = np.ones((2000, 100))
    out, mask = L.dropout_forward(big, 0.3, rng=1)
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation
    assert abs((mask == 0).mean() - 0.3) < 0.01
    same, cache = L.dropout_forward(big, 0.3, training=False)
    assert same is big and cache is None


def test_flatten(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = L.flatten_forward(x)
    assert out.shape == (2, 60)
    assert_all_below(check_layer(L.flatten_forward, L.flatten_backward, {"x": x}))


def test_sigmoid_is_stable():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = L.sigmoid(x)
    assert np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[2] == 0.5 and s[-1] == 1.0
    np.testing.assert_allclose(L.sigmoid(np.array([2.0])), 1 / (1 + np.exp(-2.0)), rtol=1e-15)


def test_binary_cross_entropy_gradient(rng):
    probs = rng.uniform(0.05, 0.95, (8, 1))
    y = rng.integers(0, 2, (8, 1)).astype(np.float64)
    loss, cache = L.binary_cross_entropy_forward(probs, y)
    expected = -np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs))
    assert loss == pytest.approx(expected, rel=1e-14)
    numeric = numerical_gradient(lambda: L.binary_cross_entropy_forward(probs, y)[0], probs)
    assert rel_error(L.binary_cross_entropy_backward(1.0, cache), numeric) < TOL


def test_binary_cross_entropy_clips_like_keras():
    assert L.BCE_EPSILON == 1e-7
    probs = np.array([0.0, 1.0])
    loss, cache = L.binary_cross_entropy_forward(probs, np.array([1.0, 0.0]))
    assert loss == pytest.approx(-np.log(1e-7), rel=1e-6)  # finite, not inf
    np.testing.assert_array_equal(L.binary_cross_entropy_backward(1.0, cache), 0.0)


def test_softmax_cross_entropy(rng):
    logits = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    loss, cache = L.softmax_cross_entropy_forward(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-13)
    numeric = numerical_gradient(lambda: L.softmax_cross_entropy_forward(logits, y)[0], logits)
    assert rel_error(L.softmax_cross_entropy_backward(1.0, cache), numeric) < TOL


def test_softmax_cross_entropy_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, _ = L.softmax_cross_entropy_forward(logits, np.array([1]))
    assert loss == pytest.approx(1000.0)
