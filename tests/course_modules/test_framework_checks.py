"""Module 06's behaviour checks, parent side: the roll's CNN in NumPy and the names the
checker gives to a model that differs from it (no framework needed here; the mutation
suite runs the same checks against real Keras and PyTorch models)."""

import numpy as np
import pytest

from dlcourse.grading.frameworks import cnn, mlp
from dlcourse.roll import derive_config

CONFIG = {**derive_config("CS2024-007"), "cnn_filters": 4, "cnn_kernel_size": 5,
          "cnn_stride": 2, "cnn_pooling": "max"}
SIZE = 10


@pytest.fixture
def drawn():
    rng = np.random.default_rng(5)
    return rng.normal(size=(6, 1, SIZE, SIZE)), cnn.draw_weights(rng, CONFIG, 1, SIZE)


def test_the_reference_gives_probabilities_that_depend_on_the_image(drawn):
    X, weights = drawn
    probs = cnn.reference_probabilities(X, weights, CONFIG)
    assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert probs[:, 0].std() > 0.01  # not saturated: a wrong model shows in the numbers


@pytest.mark.parametrize(("change", "named"), [
    ({"pooling": "avg"}, "your roll number's pooling is max"),
    ({"eps": 1e-5}, "epsilon 1e-5"),
    ({"relu_first": True}, "ReLU comes before batch norm"),
    ({"pad": 2}, "the padding is symmetric"),
])
def test_each_variant_of_the_roll_cnn_is_named(drawn, change, named):
    X, weights = drawn
    got = cnn.reference_probabilities(X, weights, CONFIG, **change)
    assert not np.allclose(got, cnn.reference_probabilities(X, weights, CONFIG),
                           atol=cnn.PROBABILITY_TOLERANCE)
    assert named in cnn.output_mistake(got, X, weights, CONFIG, "torch")


def test_softmax_twice_and_missing_softmax_are_named(drawn):
    X, weights = drawn
    right = cnn.reference_probabilities(X, weights, CONFIG)
    z = np.exp(right)
    twice = z / z.sum(axis=1, keepdims=True)
    assert "softmax is applied twice" in cnn.output_mistake(twice, X, weights,
                                                                   CONFIG, "torch")
    assert "not probabilities" in cnn.output_mistake(np.log(right), X, weights,
                                                            CONFIG, "keras")


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_weight_shapes_name_the_field_that_differs(drawn, framework):
    _, weights = drawn
    want = [list(w.shape) for w in cnn.framework_weights(weights, framework, CONFIG,
                                                                 SIZE)]
    other = {**CONFIG, "cnn_filters": 6}
    other_weights = cnn.draw_weights(np.random.default_rng(0), other, 1, SIZE)
    filters = [list(w.shape) for w in cnn.framework_weights(other_weights, framework,
                                                                    other, SIZE)]
    message = cnn.shape_differences(filters, want, framework, CONFIG, SIZE)
    assert "6 filters of 5x5" in message and "your roll number gives 4 filters" in message

    stride_one = {**CONFIG, "cnn_stride": 1}
    wider = [list(w.shape) for w in cnn.framework_weights(
        cnn.draw_weights(np.random.default_rng(0), stride_one, 1, SIZE), framework,
        stride_one, SIZE)]
    message = cnn.shape_differences(wider, want, framework, CONFIG, SIZE)
    assert "takes 100 inputs, not 16" in message and "stride is 2" in message

    no_norm = want[:2] + want[6:]
    assert "no batch normalisation" in cnn.shape_differences(no_norm, want, framework,
                                                                    CONFIG, SIZE)


def test_keras_weights_are_the_torch_weights_in_keras_layout(drawn):
    """The dense rows move from (C, H, W) to (H, W, C) order; kernels to (KH, KW, C, F)."""
    _, weights = drawn
    keras_w = cnn.framework_weights(weights, "keras", CONFIG, SIZE)
    torch_w = cnn.framework_weights(weights, "torch", CONFIG, SIZE)
    assert np.array_equal(keras_w[0], torch_w[0].transpose(2, 3, 1, 0))
    side = cnn.pooled_size(SIZE, CONFIG)
    nhwc = torch_w[6].T.reshape(4, side, side, 2).transpose(1, 2, 0, 3).reshape(-1, 2)
    assert np.array_equal(keras_w[6], nhwc)


MLP_CONFIG = {**CONFIG, "hidden_units": 8, "num_hidden_layers": 3,
              "activations": ["leaky_relu", "tanh", "sigmoid"]}


@pytest.fixture
def mlp_drawn():
    rng = np.random.default_rng(2)
    return rng.normal(0, 2, (16, 3)), mlp.draw_mlp_weights(rng, MLP_CONFIG, 3)


@pytest.mark.parametrize(("activations", "options", "named"), [
    (["leaky_relu", "tanh", "sigmoid"], {"leaky_slope": 0.2}, "Keras' default slope 0.2"),
    (["tanh", "leaky_relu", "sigmoid"], {}, "in another order"),
    (["leaky_relu", "relu", "sigmoid"], {}, "hidden layer 2 uses relu: your roll number "
                                            "gives tanh"),
])
def test_each_variant_of_the_roll_mlp_is_named(mlp_drawn, activations, options, named):
    X, weights = mlp_drawn
    got = mlp.mlp_probabilities(X, weights, activations, **options)
    want = mlp.mlp_probabilities(X, weights, MLP_CONFIG["activations"])
    assert not np.allclose(got, want, atol=mlp.MLP_TOLERANCE)
    assert named in mlp.mlp_mistake(got, X, weights, MLP_CONFIG)


def test_mlp_weight_shapes_name_units_and_layers(mlp_drawn):
    _, weights = mlp_drawn
    want = [list(w.shape) for w in weights]
    message = mlp.mlp_shape_differences(want[:2] + want[4:], want, MLP_CONFIG)
    assert "[8, 8] hidden units" in message and "your roll number gives [8, 8, 8]" in message
