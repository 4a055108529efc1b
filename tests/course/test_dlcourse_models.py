"""Models: whole-network gradient checks, learning signal, optimisers, training loop."""

import numpy as np
import pytest
from dlcourse_testing import assert_all_below

from dlcourse import data, optim, roll
from dlcourse.gradcheck import check_model
from dlcourse.models import MLP, SmallCNN
from dlcourse.train import fit


@pytest.mark.parametrize("activations, num_classes", [
    (["relu", "tanh"], 1), (["sigmoid", "leaky_relu", "tanh"], 1), ("tanh", 3),
])
def test_mlp_gradients(rng, activations, num_classes):
    model = MLP(3, [5] * (1 if isinstance(activations, str) else len(activations)),
                activations, num_classes, seed=3)
    X = rng.standard_normal((6, 3))
    y = rng.integers(0, max(num_classes, 2), 6)
    assert_all_below(check_model(model, X, y))


@pytest.mark.parametrize("stride, pooling, padding", [(1, "max", "same"), (2, "avg", "same"),
                                                      (1, "avg", 1)])
def test_cnn_gradients(rng, stride, pooling, padding):
    model = SmallCNN((2, 8, 8), num_filters=3, kernel_size=3, stride=stride, padding=padding,
                     pooling=pooling, num_classes=3, seed=1)
    X = rng.standard_normal((3, 2, 8, 8))
    assert_all_below(check_model(model, X, rng.integers(0, 3, 3)))


def test_naive_and_fast_cnn_agree(rng):
    fast = SmallCNN((1, 8, 8), 4, 5, 2, "same", "max", num_classes=2, seed=0)
    slow = SmallCNN((1, 8, 8), 4, 5, 2, "same", "max", num_classes=2, seed=0, naive=True)
    X, y = rng.standard_normal((4, 1, 8, 8)), np.array([0, 1, 1, 0])
    (l1, g1), (l2, g2) = fast.loss(X, y), slow.loss(X, y)
    assert l1 == pytest.approx(l2, abs=1e-12)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], atol=1e-9)


def test_from_config_uses_the_roll_config():
    config = roll.derive_config("CS2024007")
    mlp = MLP.from_config(config)
    assert mlp.hidden_units == [config["hidden_units"]] * config["num_hidden_layers"]
    assert mlp.activations == config["activations"]
    cnn = SmallCNN.from_config(config)
    assert cnn.params["W1"].shape == (config["cnn_filters"], 1, config["cnn_kernel_size"],
                                      config["cnn_kernel_size"])
    assert f"{config['cnn_pooling']}_pool" in [layer.kind for layer in cnn.layers]


def test_same_seed_same_weights():
    a, b = MLP(2, [4, 4], seed=5), MLP(2, [4, 4], seed=5)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


@pytest.mark.parametrize("name, lr", [("sgd", 0.3), ("momentum", 0.05), ("rmsprop", 0.005),
                                      ("adam", 0.01)])
def test_mlp_learns_moons(name, lr):
    X, y = data.make_moons(400, seed=0, noise=0.1)
    split = data.train_val_test_split(X, y, seed=0)
    model = MLP(2, [16, 16], "tanh", seed=0)
    history = fit(model, split.X_train, split.y_train, split.X_val, split.y_val,
                  optimizer=name, learning_rate=lr, batch_size=32, epochs=40, seed=0)
    assert history.loss[-1] < history.loss[0]
    assert model.evaluate(split.X_test, split.y_test)["accuracy"] > 0.9


def test_cnn_learns_bars():
    X, y = data.make_bars(300, seed=0)
    split = data.train_val_test_split(X, y, seed=0)
    model = SmallCNN((1, 16, 16), 4, 3, 1, "same", "max", num_classes=2, seed=0)
    fit(model, split.X_train, split.y_train, optimizer="adam", learning_rate=0.01,
        batch_size=32, epochs=10, seed=0)
    assert model.evaluate(split.X_test, split.y_test)["accuracy"] > 0.9


def test_early_stopping_restores_best_weights():
    X, y = data.make_xor(200, seed=1, noise=0.3)
    split = data.train_val_test_split(X, y, seed=1)
    model = MLP(2, [64, 64], "relu", seed=0)  # large learning rate: validation loss bounces
    history = fit(model, split.X_train, split.y_train, split.X_val, split.y_val,
                  optimizer="adam", learning_rate=0.05, batch_size=16, epochs=200, patience=5)
    assert history.stopped_early and len(history.val_loss) < 200
    assert len(history.val_loss) - 1 - history.best_epoch == 5
    assert model.evaluate(split.X_val, split.y_val)["loss"] == pytest.approx(min(history.val_loss))


def test_history_loss_is_the_batch_weighted_mean_before_updates():
    X, y = data.make_blobs(10, seed=0)
    model = MLP(2, [3], seed=0)
    start = model.get_params()
    history = fit(model, X, y, learning_rate=0.0, batch_size=4, epochs=1, shuffle=False)
    model.set_params(start)
    assert history.loss[0] == pytest.approx(model.evaluate(X, y)["loss"])  # lr 0: no change


def test_optimizers_follow_their_formulas():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    w1, _ = optim.sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(w1, w - 0.05)
    cfg = {"learning_rate": 0.1, "momentum": 0.9}
    w1, cfg = optim.sgd_momentum(w, dw, cfg)
    w2, cfg = optim.sgd_momentum(w1, dw, cfg)
    np.testing.assert_allclose(w2, w - 0.05 - (0.9 * 0.05 + 0.05))
    w1, cfg = optim.adam(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(w1, w - 0.1 * dw / (np.abs(dw) + 1e-8))  # first step: lr * sign
    w1, cfg = optim.rmsprop(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(w1, w - 0.1 * dw / (np.sqrt(0.1 * dw**2) + 1e-7))
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.get_optimizer("lbfgs")


def test_a_trajectory_carries_the_state_unless_told_not_to():
    w, grads = np.array([1.0, -2.0]), [np.array([0.5, 0.5]), np.array([1.0, -1.0])]
    path = optim.trajectory("momentum", w, grads, 0.1)
    v1 = -0.1 * grads[0]
    np.testing.assert_allclose(path[0], w + v1)
    np.testing.assert_allclose(path[1], w + v1 + 0.9 * v1 - 0.1 * grads[1])
    afresh = optim.trajectory("momentum", w, grads, 0.1, keep_state=False)
    np.testing.assert_allclose(afresh[1], path[0] - 0.1 * grads[1])
    assert len(optim.trajectory("adam", w, [], 0.1)) == 0


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_optimizers_minimise_a_quadratic(name):
    update = optim.get_optimizer(name)
    w, config = np.array([3.0, -4.0]), {"learning_rate": 0.05}
    for _ in range(500):
        w, config = update(w, 2 * w, config)
    assert np.linalg.norm(w) < 0.05
