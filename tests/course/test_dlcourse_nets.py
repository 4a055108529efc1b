"""dlcourse.nets: the PyTorch models later modules use as tools.

Every roll-config value builds and trains; the same call gives bit-identical results
(in one process and in two); the models compute the same function, and train along the
same path, as the course's scratch models with the same seed; evaluate matches a
NumPy computation by hand.
"""

import numpy as np
import pytest
from dlcourse_testing import require_module

torch = require_module("torch")

from dlcourse import models, nets, train  # noqa: E402
from dlcourse.data import make_moons, make_shapes, train_val_test_split  # noqa: E402
from dlcourse.roll import SCHEMA, derive_config  # noqa: E402

CONFIG = derive_config("CS2024-007")


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(200, seed=3, noise=0.15)
    return train_val_test_split(X, y, seed=0)


@pytest.fixture(scope="module")
def shapes():
    X, y = make_shapes(60, seed=1, size=12)
    return X, y


def _trains(model, X, y, **kwargs):
    """A few steps of training: finite losses, and the weights moved."""
    before = model.get_params()
    history = nets.fit(model, X, y, epochs=2, batch_size=16, restore_best=False, **kwargs)
    assert len(history.loss) == 2 and np.all(np.isfinite(history.loss))
    after = model.get_params()
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    return history


@pytest.mark.parametrize("activation", SCHEMA["activations"].choices)
def test_every_activation_builds_and_trains(activation, moons):
    config = {**CONFIG, "num_hidden_layers": 2, "activations": [activation, activation]}
    model = nets.MLP.from_config(config, input_dim=2)
    assert model.activations == [activation, activation]
    _trains(model, moons.X_train, moons.y_train, optimizer="adam", learning_rate=0.01)


@pytest.mark.parametrize(("optimizer", "learning_rate"), [
    (opt, lr) for opt, rates in SCHEMA["learning_rate"].choices.items() for lr in rates])
def test_every_optimizer_and_rate_trains(optimizer, learning_rate, moons):
    assert set(SCHEMA["optimizer"].choices) == set(nets.OPTIMIZERS)
    model = nets.MLP.from_config(CONFIG, input_dim=2)
    _trains(model, moons.X_train, moons.y_train, optimizer=optimizer,
            learning_rate=learning_rate)


@pytest.mark.parametrize("field", ["hidden_units", "num_hidden_layers", "batch_size"])
def test_every_mlp_size_builds(field, moons):
    for value in SCHEMA[field].choices:
        config = {**CONFIG, field: value}
        if field == "num_hidden_layers":
            config["activations"] = ["relu"] * value
        model = nets.MLP.from_config(config, input_dim=2)
        batch = value if field == "batch_size" else 32
        nets.fit(model, moons.X_train, moons.y_train, batch_size=batch, epochs=1)
        assert model.predict_proba(moons.X_val).shape == (len(moons.y_val),)


@pytest.mark.parametrize("field", ["cnn_filters", "cnn_kernel_size", "cnn_stride",
                                   "cnn_pooling"])
def test_every_cnn_value_builds_and_trains(field, shapes):
    X, y = shapes
    for value in SCHEMA[field].choices:
        model = nets.SmallCNN.from_config({**CONFIG, field: value}, input_shape=X.shape[1:])
        _trains(model, X, y, optimizer="adam", learning_rate=0.01)
        assert model.predict_proba(X).shape == (len(y), 3)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("size", [11, 12])
def test_cnn_matches_the_scratch_cnn(size, kernel, stride):
    """Same seed -> same weights and the same outputs, "same" padding included (odd
    totals put the extra row/column at the bottom/right, as TensorFlow does)."""
    X, _ = make_shapes(8, seed=2, size=size)
    args = ((1, size, size), 6, kernel, stride, "same", "avg")
    ours, scratch = nets.SmallCNN(*args, seed=5), models.SmallCNN(*args, seed=5)
    assert ours.num_params() == scratch.num_params()
    for name, value in scratch.get_params().items():
        np.testing.assert_array_equal(ours.get_params()[name], value)
    np.testing.assert_allclose(ours.predict_proba(X), scratch.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize(("optimizer", "learning_rate"), [
    ("sgd", 0.1), ("momentum", 0.05), ("rmsprop", 0.005), ("adam", 0.01)])
def test_fit_follows_the_scratch_training_path(optimizer, learning_rate, moons):
    """Same seed, same optimizer hyperparameters, same shuffling -> the same history."""
    kwargs = {"optimizer": optimizer, "learning_rate": learning_rate, "batch_size": 16,
              "epochs": 5, "seed": 7}
    ours = nets.MLP(2, [12, 8], ["tanh", "leaky_relu"], seed=1)
    scratch = models.MLP(2, [12, 8], ["tanh", "leaky_relu"], seed=1)
    got = nets.fit(ours, moons.X_train, moons.y_train, moons.X_val, moons.y_val, **kwargs)
    want = train.fit(scratch, moons.X_train, moons.y_train, moons.X_val, moons.y_val,
                     **kwargs)
    for key, values in want.as_dict().items():
        np.testing.assert_allclose(got.as_dict()[key], values, atol=1e-10, err_msg=key)
    assert got.best_epoch == want.best_epoch


def test_evaluate_matches_a_hand_computation(moons):
    model = nets.MLP(2, [5, 4], ["relu", "sigmoid"], seed=11)
    p = model.get_params()
    h = np.maximum(moons.X_val @ p["W1"] + p["b1"], 0)
    h = 1 / (1 + np.exp(-(h @ p["W2"] + p["b2"])))
    prob = 1 / (1 + np.exp(-(h @ p["W3"] + p["b3"])))[:, 0]
    y = moons.y_val
    loss = -np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob))
    got = model.evaluate(moons.X_val, y)
    assert got["loss"] == pytest.approx(loss, rel=1e-12)
    assert got["accuracy"] == np.mean((prob >= 0.5) == y)
    np.testing.assert_allclose(model.predict_proba(moons.X_val), prob, rtol=1e-12)


def test_softmax_evaluate_and_clipped_bce():
    model = nets.MLP(3, [4], "tanh", num_classes=3, seed=2)
    X, y = np.random.default_rng(0).standard_normal((10, 3)), np.arange(10) % 3
    p = model.get_params()
    logits = np.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    got = model.evaluate(X, y)
    assert got["loss"] == pytest.approx(-log_probs[np.arange(10), y].mean(), rel=1e-12)
    assert got["accuracy"] == np.mean(logits.argmax(axis=1) == y)
    np.testing.assert_allclose(model.predict_proba(X), np.exp(log_probs), rtol=1e-12)
    # a saturated sigmoid gives the clipped (finite) loss, as Keras does
    binary = nets.MLP(1, [2], "relu", seed=0)
    binary.set_params({"W1": np.ones((1, 2)), "b1": np.zeros(2), "W2": np.full((2, 1), 100.0),
                       "b2": np.zeros(1)})
    loss = binary.evaluate(np.array([[10.0]]), np.array([0]))["loss"]
    assert loss == pytest.approx(-np.log(nets.BCE_EPSILON), rel=1e-6)


def _run(X, y, **kwargs):
    model = nets.MLP(2, [16, 16], ["relu", "tanh"], dropout=0.2, seed=4)
    history = nets.fit(model, X, y, optimizer="adam", learning_rate=0.01, epochs=3,
                       batch_size=16, seed=9, **kwargs)
    return history, model.get_params()


def test_the_same_call_gives_bit_identical_results(moons):
    state = torch.random.get_rng_state()
    first, second = _run(moons.X_train, moons.y_train), _run(moons.X_train, moons.y_train)
    assert first[0] == second[0]
    for name, value in first[1].items():
        assert np.array_equal(value, second[1][name]), name
    assert torch.equal(torch.random.get_rng_state(), state), "torch's global RNG was used"
    assert not torch.are_deterministic_algorithms_enabled(), "global setting not restored"


def test_two_processes_give_bit_identical_results(run_python):
    code = (
        "import hashlib\n"
        "from dlcourse import nets\n"
        "from dlcourse.data import make_shapes\n"
        "X, y = make_shapes(80, seed=1, size=12)\n"
        "m = nets.SmallCNN((1, 12, 12), 8, 5, 2, 'same', 'max', num_classes=3, seed=3)\n"
        "h = nets.fit(m, X, y, optimizer='rmsprop', learning_rate=0.005, epochs=2)\n"
        "print(hashlib.sha256(m.predict_proba(X).tobytes()).hexdigest(), h.loss)\n"
    )
    assert run_python(code) == run_python(code)


def test_it_learns_the_moons(moons):
    model = nets.MLP(2, [32, 32], "relu", seed=0)
    history = nets.fit(model, moons.X_train, moons.y_train, moons.X_val, moons.y_val,
                       optimizer="adam", learning_rate=0.01, epochs=40)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert model.evaluate(moons.X_test, moons.y_test)["accuracy"] >= 0.9


def test_early_stopping_and_best_weights(moons):
    model = nets.MLP(2, [16], "relu", seed=0)
    history = nets.fit(model, moons.X_train, moons.y_train, moons.X_val, moons.y_val,
                       optimizer="sgd", learning_rate=5.0, epochs=30, patience=2)
    assert history.stopped_early and len(history.val_loss) < 30
    assert history.val_loss[history.best_epoch] == min(history.val_loss)
    kept = model.evaluate(moons.X_val, moons.y_val)["loss"]
    assert kept == history.val_loss[history.best_epoch]
    assert set(history.as_dict()) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_zero_learning_rate_keeps_the_initial_model(moons):
    for optimizer in nets.OPTIMIZERS:
        model = nets.MLP.from_config(CONFIG, input_dim=2)
        untrained = model.evaluate(moons.X_val, moons.y_val)
        nets.fit(model, moons.X_train, moons.y_train, optimizer=optimizer,
                 learning_rate=0.0, epochs=2)
        assert model.evaluate(moons.X_val, moons.y_val) == untrained, optimizer


def test_params_round_trip_summary_and_errors():
    model = nets.MLP(3, [4, 5], "relu", seed=1)
    params = model.get_params()
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (3, 4), "b1": (4,), "W2": (4, 5), "b2": (5,), "W3": (5, 1), "b3": (1,)}
    params["W1"][0, 0] = 42.0
    model.set_params(params)
    assert model.get_params()["W1"][0, 0] == 42.0
    assert model.num_params() == 3 * 4 + 4 + 4 * 5 + 5 + 5 + 1
    assert "W2(4, 5)" in model.summary() and "total parameters: 47" in model.summary()
    with pytest.raises(ValueError, match="expected parameters"):
        model.set_params({"W1": params["W1"]})
    with pytest.raises(ValueError, match="shape"):
        model.set_params({**params, "W1": np.zeros((4, 3))})


@pytest.mark.parametrize(("build", "message"), [
    (lambda: nets.MLP(2, [4], "swish"), "unknown activation 'swish'"),
    (lambda: nets.MLP(2, [4, 4], ["relu"]), "2 hidden layers but 1 activations"),
    (lambda: nets.SmallCNN(pooling="median"), "unknown pooling 'median'"),
    (lambda: nets.SmallCNN(padding="full"), "padding must be"),
    (lambda: nets.SmallCNN((1, 2, 2), kernel_size=5, padding="valid"), "too small"),
    (lambda: nets.MLP(2, dropout=1.0), "dropout rate"),
])
def test_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_optimizer_is_a_clear_error(moons):
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; use one of"):
        nets.fit(nets.MLP(2), moons.X_train, moons.y_train, optimizer="adagrad")
