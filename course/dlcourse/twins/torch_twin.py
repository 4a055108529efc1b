"""PyTorch twin of a scratch model (imports torch when this module is imported).

``to_torch(model)`` -> an ``nn.Sequential`` in float64 with the scratch
weights copied in; inputs keep the scratch layout (NCHW for images).
"""

from __future__ import annotations

import torch
from torch import nn

from dlcourse.conv import resolve_padding
from dlcourse.layers import BCE_EPSILON, LEAKY_RELU_ALPHA


def configure_torch(deterministic=True, threads=None, seed=0):
    """Deterministic algorithms, a fixed seed and optionally a thread count."""
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
    if threads is not None:
        torch.set_num_threads(threads)


def _tensor(a):
    return torch.from_numpy(a.copy()).to(torch.float64)


def _load(module, weight, bias):
    with torch.no_grad():
        module.weight.copy_(_tensor(weight))
        module.bias.copy_(_tensor(bias))
    return module


def _translate(layer, shape, params):
    """PyTorch modules for one scratch layer; shape: per-sample NCHW shape entering it."""
    kind, opts = layer.kind, layer.options
    if kind == "dense":
        W, b = (params[n] for n in layer.params)
        return [_load(nn.Linear(*W.shape, dtype=torch.float64), W.T, b)]  # (in, out) -> (out, in)
    if kind in ("conv", "conv_naive"):
        W, b = (params[n] for n in layer.params)
        f, c, kh, kw = W.shape
        stride = opts.get("stride", 1)
        top, bottom, left, right = resolve_padding(opts.get("pad", 0), shape[1], shape[2], kh, kw, stride)
        conv = _load(nn.Conv2d(c, f, (kh, kw), stride, dtype=torch.float64), W, b)
        if (top, left) == (bottom, right) and top == left:
            conv.padding = (top, left)  # symmetric: let the conv pad
            return [conv]
        return [nn.ZeroPad2d((left, right, top, bottom)), conv]  # TF "same", stride > 1
    if kind in ("max_pool", "avg_pool"):
        size = opts.get("pool_size", 2)
        cls = nn.MaxPool2d if kind == "max_pool" else nn.AvgPool2d
        return [cls(size, opts.get("stride") or size)]
    if kind == "flatten":
        return [nn.Flatten()]
    if kind == "leaky_relu":
        return [nn.LeakyReLU(opts.get("alpha", LEAKY_RELU_ALPHA))]
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if kind in simple:
        return [simple[kind]()]
    if kind == "dropout":
        return [nn.Dropout(opts["rate"])]
    raise ValueError(f"no PyTorch translation for layer kind {kind!r}")


def to_torch(model):
    """An ``nn.Sequential`` (float64) computing the same function as ``model``."""
    modules = []
    for layer, shape in zip(model.layers, model.layer_input_shapes(), strict=True):
        modules += _translate(layer, shape, model.params)
    return nn.Sequential(*modules)


def clipped_bce(probs, y, eps=BCE_EPSILON):
    """Binary cross-entropy with Keras' clip (``nn.BCELoss`` clamps the log at -100 instead)."""
    p = probs.reshape(-1).clamp(eps, 1 - eps)
    y = y.reshape(-1).to(p.dtype)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def torch_loss(model):
    """The loss matching ``model.loss_kind``: clipped BCE or cross-entropy on logits."""
    if model.loss_kind == "bce":
        return clipped_bce
    return nn.CrossEntropyLoss()
