"""Scratch vs Keras 3 vs PyTorch with identical weights and data, in float64.

Marked ``frameworks``; skipped locally without the frameworks, failing under CI=true.
"""

import numpy as np
import pytest
from dlcourse_testing import require_module

from dlcourse import data
from dlcourse.models import MLP, SmallCNN
from dlcourse.train import fit
from dlcourse.twins import to_nhwc

pytestmark = pytest.mark.frameworks

EPOCHS, LR, BATCH = 20, 0.1, 32
TOL = 1e-6


@pytest.fixture(scope="module")
def keras_twin():
    require_module("keras")
    require_module("tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already initialised by an earlier test: keep its threads
        pass
    from dlcourse.twins import keras_twin

    keras_twin.configure_keras(float64=True, deterministic=True, seed=0)
    return keras_twin


@pytest.fixture(scope="module")
def torch_twin():
    require_module("torch")
    from dlcourse.twins import torch_twin

    torch_twin.configure_torch(deterministic=True, threads=1, seed=0)
    return torch_twin


@pytest.fixture(scope="module")
def moons():
    X, y = data.make_moons(200, seed=3, noise=0.2)  # 200 / 32: the last batch is partial
    return X, y


MLP_CASES = {
    "relu-tanh": dict(hidden_units=[16, 16], activations=["relu", "tanh"]),
    "sigmoid-leaky": dict(hidden_units=[8, 12, 8], activations=["sigmoid", "leaky_relu", "tanh"]),
}


def scratch_losses(moons, spec):
    X, y = moons
    model = MLP(2, seed=11, **spec)
    start = model.get_params()
    history = fit(model, X, y, optimizer="sgd", learning_rate=LR, batch_size=BATCH,
                  epochs=EPOCHS, shuffle=False, restore_best=False)
    model.set_params(start)
    return model, np.array(history.loss)


@pytest.mark.parametrize("case", sorted(MLP_CASES))
def test_mlp_losses_match_keras_every_epoch(keras_twin, moons, case):
    import keras

    model, expected = scratch_losses(moons, MLP_CASES[case])
    kmodel = keras_twin.to_keras(model)
    assert {str(w.dtype) for w in kmodel.weights} == {"float64"}
    kmodel.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=keras_twin.keras_loss(model))
    X, y = moons
    history = kmodel.fit(X, y.reshape(-1, 1).astype(np.float64), batch_size=BATCH, epochs=EPOCHS,
                         shuffle=False, verbose=0)
    losses = np.array(history.history["loss"])
    assert losses.shape == (EPOCHS,)
    np.testing.assert_allclose(losses, expected, rtol=0, atol=TOL)


@pytest.mark.parametrize("case", sorted(MLP_CASES))
def test_mlp_losses_match_torch_every_epoch(torch_twin, moons, case):
    import torch

    model, expected = scratch_losses(moons, MLP_CASES[case])
    tmodel = torch_twin.to_torch(model)
    loss_fn = torch_twin.torch_loss(model)
    opt = torch.optim.SGD(tmodel.parameters(), lr=LR)
    X, y = (torch.from_numpy(a) for a in moons)
    losses = []
    for _ in range(EPOCHS):
        total = 0.0
        for start in range(0, len(X), BATCH):
            xb, yb = X[start:start + BATCH], y[start:start + BATCH]
            opt.zero_grad()
            loss = loss_fn(tmodel(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / len(X))
    np.testing.assert_allclose(losses, expected, rtol=0, atol=TOL)


CNN_CASES = [  # filters, kernel, stride, pooling: includes TF "same" with odd padding
    (8, 3, 1, "max"), (6, 5, 2, "avg"), (4, 3, 2, "max"), (12, 5, 1, "avg"),
]


@pytest.fixture(scope="module")
def shapes_batch():
    X, y = data.make_shapes(32, seed=5)
    return X, y


@pytest.mark.parametrize("filters, kernel, stride, pooling", CNN_CASES)
def test_cnn_logits_match_keras_and_torch(keras_twin, torch_twin, shapes_batch, filters, kernel,
                                          stride, pooling):
    import torch

    X, _ = shapes_batch
    model = SmallCNN((1, 16, 16), filters, kernel, stride, "same", pooling, num_classes=3, seed=2)
    logits, _ = model.forward(X)
    keras_logits = np.asarray(keras_twin.to_keras(model)(to_nhwc(X)))
    with torch.no_grad():
        torch_logits = torch_twin.to_torch(model)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(keras_logits, logits, rtol=0, atol=TOL)
    np.testing.assert_allclose(torch_logits, logits, rtol=0, atol=TOL)


def test_cnn_gradients_match_torch(torch_twin, shapes_batch):
    X, y = shapes_batch
    model = SmallCNN((1, 16, 16), 6, 5, 2, "same", "max", num_classes=3, seed=4)
    loss, grads = model.loss(X, y)
    tmodel = torch_twin.to_torch(model)
    import torch

    tloss = torch_twin.torch_loss(model)(tmodel(torch.from_numpy(X)), torch.from_numpy(y))
    tloss.backward()
    conv = next(m for m in tmodel if isinstance(m, torch.nn.Conv2d))
    dense = next(m for m in tmodel if isinstance(m, torch.nn.Linear))
    assert tloss.item() == pytest.approx(loss, abs=1e-12)
    np.testing.assert_allclose(conv.weight.grad.numpy(), grads["W1"], atol=1e-10)
    np.testing.assert_allclose(dense.weight.grad.numpy().T, grads["W2"], atol=1e-10)


def test_valid_and_integer_padding_twins(keras_twin, torch_twin, shapes_batch):
    import torch

    X, _ = shapes_batch
    for pad in ("valid", 2):
        model = SmallCNN((1, 16, 16), 4, 3, 2, pad, "max", num_classes=3, seed=1)
        logits, _ = model.forward(X)
        np.testing.assert_allclose(np.asarray(keras_twin.to_keras(model)(to_nhwc(X))), logits,
                                   atol=TOL)
        with torch.no_grad():
            np.testing.assert_allclose(torch_twin.to_torch(model)(torch.from_numpy(X)).numpy(),
                                       logits, atol=TOL)
