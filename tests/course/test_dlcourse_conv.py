"""Convolution and pooling: gradient checks, and fast == naive to 1e-9."""

import numpy as np
import pytest
from dlcourse_testing import assert_all_below

from dlcourse import conv as C
from dlcourse.gradcheck import check_layer, rel_error

CONV_CASES = [  # (N, C, H, W), (F, KH, KW), stride, pad
    ((2, 3, 7, 7), (4, 3, 3), 1, 1),
    ((2, 2, 8, 9), (3, 3, 3), 2, "same"),  # TF "same" with odd total padding
    ((2, 1, 9, 9), (2, 5, 5), 2, "same"),
    ((1, 2, 6, 7), (3, 2, 3), 1, "valid"),
    ((2, 2, 7, 6), (2, 3, 2), 3, 0),
]


def conv_inputs(rng, x_shape, w_shape):
    f, kh, kw = w_shape
    return {"x": rng.standard_normal(x_shape), "w": rng.standard_normal((f, x_shape[1], kh, kw)),
            "b": rng.standard_normal(f)}


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_fast_conv_gradients(rng, x_shape, w_shape, stride, pad):
    inputs = conv_inputs(rng, x_shape, w_shape)
    errors = check_layer(lambda x, w, b: C.conv2d_forward(x, w, b, stride, pad),
                         C.conv2d_backward, inputs)
    assert_all_below(errors)


def test_naive_conv_gradients(rng):
    inputs = conv_inputs(rng, (1, 2, 5, 5), (2, 3, 3))
    errors = check_layer(lambda x, w, b: C.conv2d_forward_naive(x, w, b, 2, "same"),
                         C.conv2d_backward_naive, inputs)
    assert_all_below(errors)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_fast_conv_equals_naive(rng, x_shape, w_shape, stride, pad):
    inputs = conv_inputs(rng, x_shape, w_shape)
    fast, fast_cache = C.conv2d_forward(**inputs, stride=stride, pad=pad)
    slow, slow_cache = C.conv2d_forward_naive(**inputs, stride=stride, pad=pad)
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    dout = rng.standard_normal(fast.shape)
    for g_fast, g_slow in zip(C.conv2d_backward(dout, fast_cache),
                              C.conv2d_backward_naive(dout, slow_cache), strict=True):
        assert g_fast.shape == g_slow.shape
        np.testing.assert_allclose(g_fast, g_slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (16, 3, 1, (1, 1)), (16, 3, 2, (0, 1)), (16, 5, 2, (1, 2)), (15, 5, 2, (2, 2)), (4, 1, 4, (0, 0)),
])
def test_same_padding_follows_tensorflow(size, kernel, stride, expected):
    top, bottom, left, right = C.resolve_padding("same", size, size, kernel, kernel, stride)
    assert (top, bottom) == (left, right) == expected
    assert C.conv_output_shape(size, size, kernel, kernel, stride, "same")[0] == -(-size // stride)


def test_bad_padding_is_rejected():
    with pytest.raises(ValueError, match="pad"):
        C.resolve_padding("full", 4, 4, 3, 3, 1)


POOL_CASES = [((2, 3, 8, 8), 2, None), ((2, 2, 7, 9), 3, 2), ((1, 2, 5, 5), 2, 1)]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, size, stride", POOL_CASES)
def test_pool_gradients_and_naive_match(rng, kind, x_shape, size, stride):
    # a permutation of spaced values: no ties, so max pooling has no kinks within h
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01
    fwd, bwd = C.POOLING[kind]
    naive_fwd = getattr(C, f"{kind}_pool_forward_naive")
    naive_bwd = getattr(C, f"{kind}_pool_backward_naive")
    errors = check_layer(lambda x: fwd(x, size, stride), bwd, {"x": x.astype(np.float64)})
    assert_all_below(errors)
    out, cache = fwd(x, size, stride)
    out_n, cache_n = naive_fwd(x, size, stride)
    np.testing.assert_allclose(out, out_n, rtol=0, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(bwd(dout, cache), naive_bwd(dout, cache_n), rtol=0, atol=1e-12)


def test_max_pool_routes_to_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    out, cache = C.max_pool_forward(x)
    assert out.item() == 3.0
    np.testing.assert_array_equal(C.max_pool_backward(np.ones((1, 1, 1, 1)), cache)[0, 0],
                                  [[0.0, 1.0], [0.0, 0.0]])


def test_conv_matches_a_known_answer():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    out, _ = C.conv2d_forward(x, w, np.array([0.5]), stride=2)
    np.testing.assert_array_equal(out[0, 0], [[10.5, 18.5], [42.5, 50.5]])
    assert rel_error(out, C.conv2d_forward_naive(x, w, np.array([0.5]), stride=2)[0]) == 0


def test_first_layer_can_skip_the_input_gradient(rng):
    inputs = conv_inputs(rng, (2, 1, 6, 6), (3, 3, 3))
    out, cache = C.conv2d_forward(**inputs, stride=1, pad="same")
    dout = rng.standard_normal(out.shape)
    dx, dw, db = C.conv2d_backward(dout, cache)
    none, dw2, db2 = C.conv2d_backward(dout, cache, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)
