"""Models built from the forward/backward pairs in ``layers`` and ``conv``.

A model is a list of ``Layer`` records plus a dict of parameters named as in
CS231n (``W1``, ``b1``, ``W2``, ...). ``Model.forward`` runs the layers in
order keeping every cache; ``Model.backward`` runs them in reverse. The same
``Layer`` list is what the Keras and PyTorch twins translate, so the three
implementations cannot drift apart.

Two concrete models:

- ``MLP``: dense -> activation, repeated, then a dense output. One output
  unit with sigmoid + binary cross-entropy (``num_classes=1``, the default)
  or K logits with softmax cross-entropy.
- ``SmallCNN``: conv -> ReLU -> 2x2 pool -> flatten -> dense logits, with
  softmax cross-entropy (the module-5 network).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from dlcourse import conv, layers

#: kind -> (forward, backward). Parameterised kinds take (x, W, b, **options).
LAYER_FUNCTIONS = {
    "dense": (layers.dense_forward, layers.dense_backward),
    "conv": (conv.conv2d_forward, conv.conv2d_backward),
    "conv_naive": (conv.conv2d_forward_naive, conv.conv2d_backward_naive),
    "max_pool": (conv.max_pool_forward, conv.max_pool_backward),
    "avg_pool": (conv.avg_pool_forward, conv.avg_pool_backward),
    "flatten": (layers.flatten_forward, layers.flatten_backward),
    "dropout": (layers.dropout_forward, layers.dropout_backward),
    **layers.ACTIVATIONS,
}


@dataclass(frozen=True)
class Layer:
    """One step of a model.

    kind: a key of ``LAYER_FUNCTIONS``; params: names of its parameters in
    ``Model.params`` (e.g. ("W1", "b1")); options: keyword arguments of the
    forward function (e.g. {"stride": 1, "pad": "same"}).
    """

    kind: str
    params: tuple = ()
    options: dict = field(default_factory=dict)


class Model:
    """A stack of ``Layer`` records with parameters in ``self.params``.

    loss: "bce" (the last layer outputs probabilities (N, 1)) or
    "softmax_ce" (the last layer outputs logits (N, K)).
    """

    def __init__(self, layer_list, params, loss, seed=0):
        self.layers = list(layer_list)
        self.params = params
        self.loss_kind = loss
        self._dropout_rng = np.random.default_rng(seed)

    # -- forward / backward --------------------------------------------------
    def forward(self, X, training=False):
        """X: model input (N, ...) -> (output, caches). Output (N, 1) or (N, K)."""
        out, caches = X, []
        for layer in self.layers:
            out, cache = self._forward_layer(layer, out, training)
            caches.append(cache)
        return out, caches

    def _forward_layer(self, layer, x, training):
        forward = LAYER_FUNCTIONS[layer.kind][0]
        if layer.kind == "dropout":
            return forward(x, training=training, rng=self._dropout_rng, **layer.options)
        return forward(x, *[self.params[name] for name in layer.params], **layer.options)

    def layer_input_shapes(self):
        """Per-sample shape entering each layer, traced with one zero sample."""
        x, shapes = np.zeros((1, *self.input_shape)), []
        for layer in self.layers:
            shapes.append(x.shape[1:])
            x, _ = self._forward_layer(layer, x, training=False)
        return shapes

    def backward(self, dout, caches, input_grad=True):
        """dout: gradient w.r.t. the output -> (dX, grads dict like params).

        input_grad=False lets a first conv layer skip dX (returned as None),
        which training never uses.
        """
        grads = {}
        for i in reversed(range(len(self.layers))):
            layer, cache = self.layers[i], caches[i]
            backward = LAYER_FUNCTIONS[layer.kind][1]
            if i == 0 and not input_grad and layer.kind == "conv":
                result = backward(dout, cache, need_dx=False)
            else:
                result = backward(dout, cache)
            if layer.params:
                dout, *param_grads = result
                grads.update(zip(layer.params, param_grads, strict=True))
            else:
                dout = result
        return dout, grads

    def data_loss(self, out, y):
        """(loss, cache) of the model's loss on its output ``out`` and labels ``y``."""
        if self.loss_kind == "bce":
            return layers.binary_cross_entropy_forward(out, y)
        return layers.softmax_cross_entropy_forward(out, y)

    def loss(self, X, y, training=True):
        """Forward + backward on a batch -> (loss: float, grads: dict like params)."""
        out, caches = self.forward(X, training=training)
        loss, loss_cache = self.data_loss(out, y)
        if self.loss_kind == "bce":
            dout = layers.binary_cross_entropy_backward(1.0, loss_cache)
        else:
            dout = layers.softmax_cross_entropy_backward(1.0, loss_cache)
        _, grads = self.backward(dout, caches, input_grad=False)
        return loss, grads

    # -- inference -------------------------------------------------------------
    def predict_proba(self, X):
        """Binary: P(y=1) of shape (N,). Multiclass: class probabilities (N, K)."""
        out, _ = self.forward(X, training=False)
        return out[:, 0] if self.loss_kind == "bce" else layers.softmax(out)

    def predict(self, X, threshold=0.5):
        """Predicted labels (N,): P(y=1) >= threshold, or the arg-max class."""
        proba = self.predict_proba(X)
        if self.loss_kind == "bce":
            return (proba >= threshold).astype(np.int64)
        return proba.argmax(axis=1)

    def evaluate(self, X, y):
        """{"loss": mean loss, "accuracy": fraction correct} on (X, y), no dropout."""
        out, _ = self.forward(X, training=False)
        loss, _ = self.data_loss(out, y)
        return {"loss": loss, "accuracy": float(np.mean(self.predict(X) == y))}

    # -- parameters ----------------------------------------------------------
    def get_params(self):
        """A deep copy of the parameters (for checkpoints and twins)."""
        return copy.deepcopy(self.params)

    def set_params(self, params):
        """Replace the parameters with copies of ``params`` (same keys and shapes)."""
        if params.keys() != self.params.keys():
            raise ValueError(f"expected parameters {sorted(self.params)}, got {sorted(params)}")
        self.params = {k: np.array(v, dtype=self.params[k].dtype) for k, v in params.items()}

    def num_params(self):
        """Total number of scalar parameters."""
        return sum(p.size for p in self.params.values())

    def summary(self):
        """One line per layer: kind, parameter shapes and options."""
        rows = []
        for layer in self.layers:
            shapes = ", ".join(f"{n}{self.params[n].shape}" for n in layer.params)
            rows.append(f"{layer.kind:<10} {shapes:<28} {layer.options or ''}")
        rows.append(f"total parameters: {self.num_params()}")
        return "\n".join(rows)


# ----------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------
def init_weight(rng, fan_in, fan_out, shape, scheme, dtype=np.float64):
    """He-normal (``"he"``, for ReLU-like units) or Glorot-uniform (``"glorot"``)."""
    if scheme == "he":
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(dtype)
    raise ValueError(f"unknown init scheme {scheme!r}; use 'he' or 'glorot'")


def _default_scheme(activation):
    return "he" if activation in ("relu", "leaky_relu") else "glorot"


# ----------------------------------------------------------------------------
# MLP
# ----------------------------------------------------------------------------
class MLP(Model):
    """Multi-layer perceptron of any depth, width and activations.

    input_dim: D; hidden_units: int (same for every layer) or a list of
    widths; activations: str (every layer) or a list, one per hidden layer,
    each a key of ``layers.ACTIVATIONS``; num_classes: 1 for sigmoid + BCE,
    K >= 2 for softmax cross-entropy; dropout: rate after each hidden
    activation (0 = none); init: "auto" (He for ReLU-like layers, Glorot
    otherwise), "he" or "glorot". Input (N, D) -> output (N, 1) or (N, K).
    """

    def __init__(self, input_dim, hidden_units=(32,), activations="relu", num_classes=1,
                 dropout=0.0, init="auto", seed=0, dtype=np.float64):
        widths = [hidden_units] if np.isscalar(hidden_units) else list(hidden_units)
        acts = [activations] * len(widths) if isinstance(activations, str) else list(activations)
        if len(acts) != len(widths):
            raise ValueError(f"{len(widths)} hidden layers but {len(acts)} activations")
        for act in acts:
            if act not in layers.ACTIVATIONS:
                raise ValueError(f"unknown activation {act!r}; use one of {list(layers.ACTIVATIONS)}")
        rng = np.random.Generator(np.random.PCG64(seed))
        dims = [input_dim, *widths, num_classes]
        schemes = [_default_scheme(a) if init == "auto" else init for a in acts]
        schemes.append("glorot")
        params, layer_list = {}, []
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
            params[f"W{i}"] = init_weight(rng, fan_in, fan_out, (fan_in, fan_out), schemes[i - 1], dtype)
            params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
            layer_list.append(Layer("dense", (f"W{i}", f"b{i}")))
            if i <= len(acts):
                layer_list.append(Layer(acts[i - 1]))
                if dropout:
                    layer_list.append(Layer("dropout", options={"rate": dropout}))
        if num_classes == 1:
            layer_list.append(Layer("sigmoid"))
        super().__init__(layer_list, params, "bce" if num_classes == 1 else "softmax_ce", seed)
        self.hidden_units, self.activations, self.num_classes = widths, acts, num_classes
        self.input_shape = (input_dim,)

    @classmethod
    def from_config(cls, config, input_dim=2, num_classes=1, **kwargs):
        """The MLP of a ``roll.derive_config`` dict."""
        widths = [config["hidden_units"]] * config["num_hidden_layers"]
        return cls(input_dim, widths, config["activations"], num_classes,
                   seed=config["seed"], **kwargs)


# ----------------------------------------------------------------------------
# Small CNN
# ----------------------------------------------------------------------------
class SmallCNN(Model):
    """conv(F, k, stride, pad) -> ReLU -> pool(2x2) -> flatten -> dense(K) logits.

    input_shape: (C, H, W); num_filters: F; kernel_size: k; stride; padding:
    int, "same" (TensorFlow rules) or "valid"; pooling: "max" or "avg";
    naive: use the loop convolution (for teaching and checking).
    Input (N, C, H, W) -> logits (N, K); loss: softmax cross-entropy.
    """

    def __init__(self, input_shape=(1, 16, 16), num_filters=8, kernel_size=3, stride=1,
                 padding="same", pooling="max", pool_size=2, num_classes=3, seed=0,
                 naive=False, dtype=np.float64):
        c, h, w = input_shape
        k = kernel_size
        oh, ow = conv.conv_output_shape(h, w, k, k, stride, padding)
        ph, pw = (oh - pool_size) // pool_size + 1, (ow - pool_size) // pool_size + 1
        if ph < 1 or pw < 1:
            raise ValueError(f"input {input_shape} is too small for this conv/pool stack")
        rng = np.random.Generator(np.random.PCG64(seed))
        flat = num_filters * ph * pw
        params = {
            "W1": init_weight(rng, c * k * k, num_filters * k * k, (num_filters, c, k, k), "he", dtype),
            "b1": np.zeros(num_filters, dtype=dtype),
            "W2": init_weight(rng, flat, num_classes, (flat, num_classes), "glorot", dtype),
            "b2": np.zeros(num_classes, dtype=dtype),
        }
        layer_list = [
            Layer("conv_naive" if naive else "conv", ("W1", "b1"), {"stride": stride, "pad": padding}),
            Layer("relu"),
            Layer(f"{pooling}_pool", options={"pool_size": pool_size}),
            Layer("flatten"),
            Layer("dense", ("W2", "b2")),
        ]
        super().__init__(layer_list, params, "softmax_ce", seed)
        self.input_shape, self.num_classes = tuple(input_shape), num_classes

    @classmethod
    def from_config(cls, config, input_shape=(1, 16, 16), num_classes=3, **kwargs):
        """The CNN of a ``roll.derive_config`` dict (cnn_* keys)."""
        return cls(input_shape, config["cnn_filters"], config["cnn_kernel_size"],
                   config["cnn_stride"], "same", config["cnn_pooling"],
                   num_classes=num_classes, seed=config["seed"], **kwargs)
