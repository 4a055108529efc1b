"""Convolution and pooling as forward/backward pairs (NCHW layout).

Two implementations of the same maths:

- ``*_naive``: explicit Python loops over every output position, to read
  alongside the lecture notes. Slow; use on tiny inputs only.
- the unsuffixed functions: vectorised. ``sliding_window_view`` exposes every
  receptive field as a view, one batched matrix product per pass does the
  arithmetic (im2col), and the backward pass scatters the column gradients
  back with one vectorised add per kernel tap (at most KH*KW iterations,
  never a loop over N, C, H or W). Pooling likewise loops over the few
  window taps only. Batched ``np.matmul`` over the N images measured faster
  here than ``tensordot``/``einsum`` or one big 2-D product, which pay for
  transposed copies and BLAS threading on small matrices.

Shapes: x (N, C, H, W); conv weights w (F, C, KH, KW); bias b (F,);
outputs (N, F, OH, OW) with ``OH = (H + pad_top + pad_bottom - KH) // stride + 1``.

Padding ``pad`` may be an int (same zeros on every side), ``"valid"`` (no
padding) or ``"same"``, which follows TensorFlow/Keras exactly: the output is
``ceil(H / stride)`` and when the total padding is odd the extra row/column
goes at the bottom/right. PyTorch's ``padding="same"`` refuses stride > 1, so
the PyTorch twin pads explicitly with these numbers (see ``resolve_padding``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


# ----------------------------------------------------------------------------
# Padding helpers
# ----------------------------------------------------------------------------
def _same_pads(size, kernel, stride):
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def resolve_padding(pad, height, width, kh, kw, stride):
    """Turn ``pad`` (int, "valid" or "same") into (top, bottom, left, right)."""
    if pad == "valid":
        return (0, 0, 0, 0)
    if pad == "same":
        return (*_same_pads(height, kh, stride), *_same_pads(width, kw, stride))
    if isinstance(pad, (int, np.integer)) and pad >= 0:
        p = int(pad)
        return (p, p, p, p)
    raise ValueError(f"pad must be a non-negative int, 'valid' or 'same'; got {pad!r}")


def conv_output_shape(height, width, kh, kw, stride, pad):
    """Spatial output size (OH, OW) of a convolution or pooling window."""
    top, bottom, left, right = resolve_padding(pad, height, width, kh, kw, stride)
    return (
        (height + top + bottom - kh) // stride + 1,
        (width + left + right - kw) // stride + 1,
    )


def _pad(x, pads):
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def _unpad(xp, pads):
    top, bottom, left, right = pads
    return xp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]


def _taps(offset, stride, count):
    """Slice picking kernel tap ``offset`` of each of ``count`` windows along one axis."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def _windows(x, kh, kw, stride):
    """View of every receptive field: (N, C, H, W) -> (N, C, OH, OW, KH, KW). No copy."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


# ----------------------------------------------------------------------------
# Convolution, naive loops (for teaching)
# ----------------------------------------------------------------------------
def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """Cross-correlation exactly as in the notes, one output value at a time.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> out: (N, F, OH, OW).
    cache = (x, w, stride, pads).
    """
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    pads = resolve_padding(pad, h, wd, kh, kw, stride)
    xp = _pad(x, pads)
    oh = (xp.shape[2] - kh) // stride + 1
    ow = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((n, f, oh, ow), dtype=np.result_type(x, w))
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for c in range(ow):
                    field = xp[i, :, r * stride : r * stride + kh, c * stride : c * stride + kw]
                    out[i, k, r, c] = np.sum(field * w[k]) + b[k]
    return out, (x, w, stride, pads)


def conv2d_backward_naive(dout, cache):
    """dout: (N, F, OH, OW) -> dx: (N, C, H, W), dw: (F, C, KH, KW), db: (F,)."""
    x, w, stride, pads = cache
    xp = _pad(x, pads)
    dxp = np.zeros_like(xp, dtype=np.result_type(x, dout))
    dw = np.zeros_like(w, dtype=np.result_type(w, dout))
    n, f, oh, ow = dout.shape
    _, _, kh, kw = w.shape
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for c in range(ow):
                    rows = slice(r * stride, r * stride + kh)
                    cols = slice(c * stride, c * stride + kw)
                    dxp[i, :, rows, cols] += w[k] * dout[i, k, r, c]
                    dw[k] += xp[i, :, rows, cols] * dout[i, k, r, c]
    db = dout.sum(axis=(0, 2, 3))
    return _unpad(dxp, pads), dw, db


# ----------------------------------------------------------------------------
# Convolution, vectorised (im2col through a strided view)
# ----------------------------------------------------------------------------
def conv2d_forward(x, w, b, stride=1, pad=0):
    """Vectorised convolution; same contract as ``conv2d_forward_naive``.

    The (N, C, OH, OW, KH, KW) window view is copied once into columns
    ``cols`` of shape (N, C*KH*KW, OH*OW); the output is then one batched
    matrix product ``w.reshape(F, C*KH*KW) @ cols`` -> (N, F, OH*OW).
    cache = (x.shape, cols, w, stride, pads).
    """
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    pads = resolve_padding(pad, h, wd, kh, kw, stride)
    win = _windows(_pad(x, pads), kh, kw, stride)  # (N, C, OH, OW, KH, KW)
    oh, ow = win.shape[2], win.shape[3]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    out = np.matmul(w.reshape(f, -1), cols)
    out += b[:, None]
    return out.reshape(n, f, oh, ow), (x.shape, cols, w, stride, pads)


def conv2d_backward(dout, cache, need_dx=True):
    """dout: (N, F, OH, OW) -> dx: (N, C, H, W), dw: (F, C, KH, KW), db: (F,).

    need_dx=False skips the input gradient (returned as None): a model's first
    layer never needs it, and PyTorch skips it there too.
    """
    x_shape, cols, w, stride, pads = cache
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    _, _, oh, ow = dout.shape
    dout_mat = dout.reshape(n, f, oh * ow)
    db = dout_mat.sum(axis=(0, 2))
    # dw[f, k] = sum over images n and positions p of dout[n, f, p] * cols[n, k, p]
    dw = np.matmul(dout_mat, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    # dcols[n, k, p] = sum_f w[f, k] * dout[n, f, p], then col2im
    dcols = np.matmul(w.reshape(f, -1).T, dout_mat).reshape(n, c, kh, kw, oh, ow)
    top, bottom, left, right = pads
    dxp = np.zeros((n, c, h + top + bottom, wd + left + right), dtype=dcols.dtype)
    for i in range(kh):  # one vectorised scatter-add per kernel tap
        for j in range(kw):
            dxp[:, :, _taps(i, stride, oh), _taps(j, stride, ow)] += dcols[:, :, i, j]
    return _unpad(dxp, pads), dw, db


# ----------------------------------------------------------------------------
# Pooling (valid windows: floor semantics, as Keras "valid" and PyTorch default)
# ----------------------------------------------------------------------------
def _pool_windows_naive(x, pool_size, stride, reduce):
    """Loop version of pooling: ``reduce`` (np.max or np.mean) over each window.

    x: (N, C, H, W) -> (N, C, OH, OW).
    """
    n, c, h, w = x.shape
    oh, ow = (h - pool_size) // stride + 1, (w - pool_size) // stride + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for r in range(oh):
        for q in range(ow):
            field = x[:, :, r * stride : r * stride + pool_size, q * stride : q * stride + pool_size]
            out[:, :, r, q] = reduce(field, axis=(2, 3))
    return out


def max_pool_forward_naive(x, pool_size=2, stride=None):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), max over each pool window.

    cache = (x, pool_size, stride).
    """
    stride = stride or pool_size
    return _pool_windows_naive(x, pool_size, stride, np.max), (x, pool_size, stride)


def max_pool_backward_naive(dout, cache):
    """dout: (N, C, OH, OW) -> dx: (N, C, H, W); each gradient goes to its
    window's first maximum (row-major), like PyTorch."""
    x, size, stride = cache
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    n, c, oh, ow = dout.shape
    for i in range(n):
        for k in range(c):
            for r in range(oh):
                for q in range(ow):
                    field = x[i, k, r * stride : r * stride + size, q * stride : q * stride + size]
                    a, b = np.unravel_index(np.argmax(field), field.shape)
                    dx[i, k, r * stride + a, q * stride + b] += dout[i, k, r, q]
    return dx


def _pool_shape(x, size, stride):
    return (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1


def max_pool_forward(x, pool_size=2, stride=None):
    """Vectorised max pooling; same contract as ``max_pool_forward_naive``.

    The maximum is built tap by tap (pool_size^2 elementwise maxima of
    strided views), which beats an argmax over tiny trailing axes.
    cache = (x, out, pool_size, stride).
    """
    stride = stride or pool_size
    oh, ow = _pool_shape(x, pool_size, stride)
    out = None
    for i in range(pool_size):
        for j in range(pool_size):
            tap = x[:, :, _taps(i, stride, oh), _taps(j, stride, ow)]
            out = tap.copy() if out is None else np.maximum(out, tap, out=out)
    return out, (x, out, pool_size, stride)


def max_pool_backward(dout, cache):
    """dout: (N, C, OH, OW) -> dx: (N, C, H, W), routed to each window's first maximum."""
    x, out, size, stride = cache
    _, _, oh, ow = dout.shape
    dx = np.zeros(x.shape, dtype=dout.dtype)
    routed = np.zeros(out.shape, dtype=bool)
    for i in range(size):  # row-major tap order: the first maximum wins, as in the naive loop
        for j in range(size):
            rows, cols = _taps(i, stride, oh), _taps(j, stride, ow)
            hit = (x[:, :, rows, cols] == out) & ~routed
            dx[:, :, rows, cols] += dout * hit
            routed |= hit
    return dx


def avg_pool_forward_naive(x, pool_size=2, stride=None):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), mean over each pool window.

    cache = (x.shape, pool_size, stride).
    """
    stride = stride or pool_size
    return _pool_windows_naive(x, pool_size, stride, np.mean), (x.shape, pool_size, stride)


def avg_pool_backward_naive(dout, cache):
    """dout: (N, C, OH, OW) -> dx: (N, C, H, W); each window shares its gradient equally."""
    x_shape, size, stride = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _, _, oh, ow = dout.shape
    for r in range(oh):
        for q in range(ow):
            share = dout[:, :, r, q][:, :, None, None] / (size * size)
            dx[:, :, r * stride : r * stride + size, q * stride : q * stride + size] += share
    return dx


def avg_pool_forward(x, pool_size=2, stride=None):
    """Vectorised average pooling; same contract as ``avg_pool_forward_naive``."""
    stride = stride or pool_size
    oh, ow = _pool_shape(x, pool_size, stride)
    total = np.zeros((*x.shape[:2], oh, ow), dtype=x.dtype)
    for i in range(pool_size):
        for j in range(pool_size):
            total += x[:, :, _taps(i, stride, oh), _taps(j, stride, ow)]
    return total / (pool_size * pool_size), (x.shape, pool_size, stride)


def avg_pool_backward(dout, cache):
    """dout: (N, C, OH, OW) -> dx: (N, C, H, W); each window shares its gradient equally."""
    x_shape, size, stride = cache
    _, _, oh, ow = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / (size * size)
    for i in range(size):
        for j in range(size):
            dx[:, :, _taps(i, stride, oh), _taps(j, stride, ow)] += share
    return dx


#: pooling name -> (forward, backward), as used by models and roll configs.
POOLING = {
    "max": (max_pool_forward, max_pool_backward),
    "avg": (avg_pool_forward, avg_pool_backward),
}
