"""Ready-made PyTorch models with a NumPy interface, for modules that use a model as a tool.

Modules 03 (roll compare), 06, 07 and 08 need a network built from a roll-number config,
trained the same way every time, without the from-scratch library the earlier modules
ask students to write. This module gives them one, in float64 on the CPU:

- ``MLP``: dense -> activation (-> dropout), repeated, then a dense output. One output
  unit with sigmoid + clipped binary cross-entropy (``num_classes=1``) or K logits with
  softmax cross-entropy.
- ``SmallCNN``: conv -> ReLU -> pool -> flatten -> dense logits (softmax cross-entropy).
  ``"same"`` padding follows TensorFlow's rule, also for stride > 1.
- ``fit(model, X, y, ...) -> History``: minibatch training with best-weights tracking
  and early stopping.

Arrays go in and come out as NumPy (inputs (N, D) or NCHW images (N, C, H, W); labels
(N,) integers). Parameters are named ``W1, b1, W2, ...`` with dense kernels stored
(in, out), as in the course's other models. Everything is seeded from the ``seed``
arguments alone: initial weights are drawn with ``numpy.random.Generator(PCG64(seed))``
(He-normal for ReLU-like layers, Glorot-uniform otherwise), minibatches are shuffled
with ``PCG64(seed)`` and dropout masks come from a ``torch.Generator`` of the model's
own; torch's global random state is never read or changed, so the same call gives
bit-identical results in any process.

Importing this module imports torch.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn.utils import skip_init

from dlcourse.history import BestEpoch, History

#: Probability clip of the binary cross-entropy (Keras' ``epsilon()``).
BCE_EPSILON = 1e-7

#: Negative slope of leaky ReLU (PyTorch's default).
LEAKY_RELU_ALPHA = 0.01

DTYPE = torch.float64

#: activation name (as in roll configs) -> module factory.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(LEAKY_RELU_ALPHA),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

#: optimizer name (as in roll configs) -> torch optimizer factory (parameters, lr).
#: The hyperparameters are the course's: momentum 0.9; RMSprop decay 0.9 and epsilon
#: 1e-7 (Keras'); Adam betas (0.9, 0.999) and epsilon 1e-8.
OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8),
}


def _choose(table, name, what):
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}; use one of {sorted(table)}") from None


@contextmanager
def _deterministic():
    """Deterministic torch algorithms inside the block; the previous setting after it."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


# ----------------------------------------------------------------------------
# Initialisation (NumPy, so that a seed means the same weights everywhere)
# ----------------------------------------------------------------------------
def init_weight(rng, fan_in, fan_out, shape, scheme):
    """He-normal (``"he"``) or Glorot-uniform (``"glorot"``) float64 weights."""
    if scheme == "he":
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    raise ValueError(f"unknown init scheme {scheme!r}; use 'he' or 'glorot'")


def _linear(fan_in, fan_out):
    return skip_init(nn.Linear, fan_in, fan_out, dtype=DTYPE)  # no draw from torch's RNG


class _Dropout(nn.Module):
    """Inverted dropout whose masks come from the model's own generator."""

    def __init__(self, rate, generator):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate, self.generator = rate, generator

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.rate
        return x * keep / (1.0 - self.rate)

    def extra_repr(self):
        return f"rate={self.rate}"


def same_padding(size, kernel, stride):
    """TensorFlow's "same" padding along one axis -> (before, after); the extra
    row/column, if any, goes after (bottom/right). Output size ceil(size / stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


# ----------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------
class Net:
    """A float64 ``nn.Sequential`` (``self.net``) behind a NumPy interface.

    Subclasses build the modules and the named parameters; ``loss_kind`` is "bce" (the
    network ends in a sigmoid, output (N, 1)) or "softmax_ce" (logits (N, K)).
    """

    def __init__(self, modules, slots, params, loss_kind, seed):
        self.net = nn.Sequential(*modules)
        self._slots = slots  # parameter name -> (module, "weight" or "bias")
        self.loss_kind = loss_kind
        self.seed = seed
        self.set_params(params)

    # -- forward -------------------------------------------------------------
    def forward(self, X, training=False):
        """Network output for NumPy ``X`` as a tensor: probabilities (N, 1) or logits."""
        self.net.train(training)
        return self.net(torch.as_tensor(np.asarray(X, dtype=np.float64)))

    def loss_fn(self, out, y):
        """Mean loss of output tensor ``out`` on labels ``y`` (tensor or array)."""
        y = torch.as_tensor(np.asarray(y))
        if self.loss_kind == "bce":
            p = out.reshape(-1).clamp(BCE_EPSILON, 1.0 - BCE_EPSILON)
            y = y.reshape(-1).to(p.dtype)
            return -(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p)).mean()
        return nn.functional.cross_entropy(out, y.to(torch.int64))

    # -- inference -------------------------------------------------------------
    def _proba(self, out):
        if self.loss_kind == "bce":
            return out[:, 0].numpy()
        return torch.softmax(out, dim=1).numpy()

    def _labels(self, proba, threshold):
        if self.loss_kind == "bce":
            return (proba >= threshold).astype(np.int64)
        return proba.argmax(axis=1)

    def predict_proba(self, X):
        """Binary: P(y=1) of shape (N,). Multiclass: class probabilities (N, K)."""
        with torch.no_grad(), _deterministic():
            return self._proba(self.forward(X))

    def predict(self, X, threshold=0.5):
        """Predicted labels (N,): P(y=1) >= threshold, or the arg-max class."""
        return self._labels(self.predict_proba(X), threshold)

    def evaluate(self, X, y):
        """{"loss": mean loss, "accuracy": fraction correct} on (X, y), no dropout."""
        with torch.no_grad(), _deterministic():
            out = self.forward(X)
            loss = float(self.loss_fn(out, y))
            labels = self._labels(self._proba(out), 0.5)
        return {"loss": loss, "accuracy": float(np.mean(labels == np.asarray(y)))}

    # -- parameters ----------------------------------------------------------
    def _tensor(self, name):
        module, attr = self._slots[name]
        return getattr(module, attr)

    @staticmethod
    def _layout(module, attr, array):
        """Course layout <-> torch layout: dense kernels are (in, out) vs (out, in)."""
        return array.T if isinstance(module, nn.Linear) and attr == "weight" else array

    def get_params(self):
        """{name: NumPy copy} with dense kernels (in, out), conv kernels (F, C, KH, KW)."""
        return {name: self._layout(*slot, self._tensor(name).detach().numpy()).copy()
                for name, slot in self._slots.items()}

    def set_params(self, params):
        """Load ``params`` (same names and shapes as ``get_params``)."""
        if params.keys() != self._slots.keys():
            raise ValueError(f"expected parameters {sorted(self._slots)}, got {sorted(params)}")
        for name, (module, attr) in self._slots.items():
            value = self._layout(module, attr, np.asarray(params[name], dtype=np.float64))
            target = getattr(module, attr)
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{name}: shape {np.shape(params[name])} does not fit "
                                 f"this model")
            with torch.no_grad():
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    def num_params(self):
        """Total number of scalar parameters."""
        return sum(p.numel() for p in self.net.parameters())

    def summary(self):
        """One line per module with its parameter shapes (course layout), and the total."""
        shapes = {name: p.shape for name, p in self.get_params().items()}
        rows = [f"{module!r:<48} " + ", ".join(
            f"{name}{shapes[name]}" for name, (owner, _) in self._slots.items() if owner is module)
            for module in self.net]
        rows = [row.rstrip() for row in rows]
        rows.append(f"total parameters: {self.num_params()}")
        return "\n".join(rows)


class MLP(Net):
    """Multi-layer perceptron of any depth, width and activations, in PyTorch.

    input_dim: D; hidden_units: int (one hidden layer) or a list of widths;
    activations: str (every layer) or a list, one per hidden layer, each a key of
    ``ACTIVATIONS``; num_classes: 1 for sigmoid + BCE, K >= 2 for softmax cross-entropy;
    dropout: rate after each hidden activation (0 = none); seed: initial weights and
    dropout masks. Input (N, D).
    """

    def __init__(self, input_dim, hidden_units=(32,), activations="relu", num_classes=1,
                 dropout=0.0, seed=0):
        widths = [int(hidden_units)] if np.isscalar(hidden_units) else [int(w) for w in hidden_units]
        acts = [activations] * len(widths) if isinstance(activations, str) else list(activations)
        if len(acts) != len(widths):
            raise ValueError(f"{len(widths)} hidden layers but {len(acts)} activations")
        makers = [_choose(ACTIVATIONS, act, "activation") for act in acts]
        rng = np.random.Generator(np.random.PCG64(seed))
        generator = torch.Generator().manual_seed(int(seed))
        dims = [int(input_dim), *widths, int(num_classes)]
        schemes = ["he" if a in ("relu", "leaky_relu") else "glorot" for a in acts] + ["glorot"]
        modules, slots, params = [], {}, {}
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
            params[f"W{i}"] = init_weight(rng, fan_in, fan_out, (fan_in, fan_out), schemes[i - 1])
            params[f"b{i}"] = np.zeros(fan_out)
            dense = _linear(fan_in, fan_out)
            slots.update({f"W{i}": (dense, "weight"), f"b{i}": (dense, "bias")})
            modules.append(dense)
            if i <= len(acts):
                modules.append(makers[i - 1]())
                if dropout:
                    modules.append(_Dropout(dropout, generator))
        if num_classes == 1:
            modules.append(nn.Sigmoid())
        super().__init__(modules, slots, params, "bce" if num_classes == 1 else "softmax_ce",
                         seed)
        self.hidden_units, self.activations, self.num_classes = widths, acts, num_classes
        self.input_shape = (int(input_dim),)

    @classmethod
    def from_config(cls, config, input_dim=2, num_classes=1, **kwargs):
        """The MLP of a ``roll.derive_config`` dict (hidden_units, num_hidden_layers,
        activations, seed)."""
        widths = [config["hidden_units"]] * config["num_hidden_layers"]
        return cls(input_dim, widths, config["activations"], num_classes,
                   seed=config["seed"], **kwargs)


class SmallCNN(Net):
    """conv(F, k, stride, padding) -> ReLU -> pool -> flatten -> dense(K) logits, in PyTorch.

    input_shape: (C, H, W); num_filters: F; kernel_size: k; padding: "same"
    (TensorFlow's rule), "valid" or an int; pooling: "max" or "avg" with windows and
    strides of pool_size. Input (N, C, H, W) -> logits (N, K), softmax cross-entropy.
    """

    def __init__(self, input_shape=(1, 16, 16), num_filters=8, kernel_size=3, stride=1,
                 padding="same", pooling="max", pool_size=2, num_classes=3, seed=0):
        c, h, w = (int(s) for s in input_shape)
        k, stride = int(kernel_size), int(stride)
        if padding == "same":
            (top, bottom), (left, right) = same_padding(h, k, stride), same_padding(w, k, stride)
        elif padding == "valid":
            top = bottom = left = right = 0
        elif isinstance(padding, int | np.integer) and padding >= 0:
            top = bottom = left = right = int(padding)
        else:
            raise ValueError(f"padding must be 'same', 'valid' or a non-negative int; "
                             f"got {padding!r}")
        pool = _choose({"max": nn.MaxPool2d, "avg": nn.AvgPool2d}, pooling, "pooling")
        oh, ow = (h + top + bottom - k) // stride + 1, (w + left + right - k) // stride + 1
        ph, pw = (oh - pool_size) // pool_size + 1, (ow - pool_size) // pool_size + 1
        if oh < 1 or ow < 1 or ph < 1 or pw < 1:
            raise ValueError(f"input {tuple(input_shape)} is too small for this conv/pool stack")
        rng = np.random.Generator(np.random.PCG64(seed))
        flat = num_filters * ph * pw
        params = {
            "W1": init_weight(rng, c * k * k, num_filters * k * k, (num_filters, c, k, k), "he"),
            "b1": np.zeros(num_filters),
            "W2": init_weight(rng, flat, num_classes, (flat, num_classes), "glorot"),
            "b2": np.zeros(num_classes),
        }
        conv = skip_init(nn.Conv2d, c, num_filters, k, stride, dtype=DTYPE)
        modules = [conv]
        if (top, left) == (bottom, right):
            conv.padding = (top, left)  # symmetric: the conv pads itself
        else:
            modules.insert(0, nn.ZeroPad2d((left, right, top, bottom)))
        dense = _linear(flat, num_classes)
        modules += [nn.ReLU(), pool(pool_size), nn.Flatten(), dense]
        slots = {"W1": (conv, "weight"), "b1": (conv, "bias"),
                 "W2": (dense, "weight"), "b2": (dense, "bias")}
        super().__init__(modules, slots, params, "softmax_ce", seed)
        self.input_shape, self.num_classes = (c, h, w), num_classes

    @classmethod
    def from_config(cls, config, input_shape=(1, 16, 16), num_classes=3, **kwargs):
        """The CNN of a ``roll.derive_config`` dict (cnn_filters, cnn_kernel_size,
        cnn_stride, cnn_pooling, seed), with "same" padding."""
        return cls(input_shape, config["cnn_filters"], config["cnn_kernel_size"],
                   config["cnn_stride"], "same", config["cnn_pooling"],
                   num_classes=num_classes, seed=config["seed"], **kwargs)


# ----------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------
def fit(model, X, y, X_val=None, y_val=None, *, optimizer="sgd", learning_rate=1e-2,
        batch_size=32, epochs=10, patience=None, shuffle=True, seed=0,
        restore_best=True, verbose=False):
    """Train ``model`` (an ``MLP`` or ``SmallCNN``) in place and return its ``History``.

    X: (N, ...) inputs, y: (N,) labels; X_val, y_val: optional validation set used for
    best weights and early stopping (otherwise the training loss is monitored).
    optimizer: a key of ``OPTIMIZERS``. The recorded loss of an epoch is the mean of the
    minibatch losses weighted by batch size, each taken before its update (what Keras
    reports). patience: stop after this many epochs without improvement (None = never).
    restore_best: finish with the weights of the best epoch. shuffle uses
    Generator(PCG64(seed)).
    """
    make_optimizer = _choose(OPTIMIZERS, optimizer, "optimizer")
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    opt = make_optimizer(model.net.parameters(), learning_rate)
    rng = np.random.Generator(np.random.PCG64(seed)) if shuffle else None
    history = History()
    best = BestEpoch(history, _snapshot(model), patience)

    with _deterministic():
        for epoch in range(epochs):
            order = np.arange(len(X)) if rng is None else rng.permutation(len(X))
            total = 0.0
            for start in range(0, len(X), batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad()
                loss = model.loss_fn(model.forward(X[idx], training=True), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            accuracy = float(np.mean(model.predict(X) == y))
            val = model.evaluate(X_val, y_val) if X_val is not None else None
            score = history.record(total / len(X), accuracy, val)
            if verbose:
                history.print_epoch(epoch, epochs)
            if best.update(epoch, score, lambda: _snapshot(model)):
                break

    if restore_best:
        model.net.load_state_dict(best.weights)
    return history


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.net.state_dict().items()}
