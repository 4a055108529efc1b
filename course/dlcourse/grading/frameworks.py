"""Module 06's checks: the student's Keras and PyTorch CNNs and optimizers, by behaviour.

A framework model cannot cross the wire, so the checker sends a *probe* (the cell in
``PROBE_SOURCE``) into the student's process: it builds the student's model or optimizer
there and answers with plain data only (weight shapes, outputs, a parameter's path).
The verdict is decided here, against the course's NumPy reference **for the roll
number the service graded**:

- ``framework_model``: the checker draws the weights of the roll's CNN (conv, batch
  norm, ReLU, 2x2 pooling, dense, softmax), copies them into the student's
  ``build_keras_cnn`` / ``build_torch_cnn`` model in that framework's layout (what
  ``dlcourse.twins`` does for the scratch models) and compares the class
  probabilities on images it draws. A model of another roll number's spec has other
  weight shapes or other outputs, and the message names the field.
- ``framework_mlp``: the same for module 03's ``build_keras_mlp`` (the roll's hidden
  units, layers and activations, a sigmoid output).
- ``framework_optimizer``: the student's ``make_keras_optimizer`` /
  ``make_torch_optimizer`` moves one parameter by gradients the checker draws; its path
  is compared with ``dlcourse.optim`` for the roll's optimizer (the mistakes of
  module 03's rule are named the same way).
- ``framework_training``: the student's training function on bar images the checker
  draws and keeps; the parent scores the held-out probabilities.

A probe runs student code, so nothing it returns is trusted beyond being data: the
right answer needs the right model, since the checker's weights and images are fresh.
"""

from __future__ import annotations

import numpy as np

from dlcourse import conv, data, metrics, optim
from dlcourse.grading.checks import CNN_SIZE, _split, mismatch
from dlcourse.grading.diagnosis import likely_mistake, network_mistakes
from dlcourse.layers import LEAKY_RELU_ALPHA
from dlcourse.twins import dense_kernel_after_flatten

#: batch norm's epsilon in both frameworks (Keras' default; PyTorch's is 1e-5)
BN_EPSILON = 1e-3
#: images the model probe runs; their side length is drawn from these
PROBE_IMAGES, PROBE_SIZES = 6, (8, 10)
#: tolerance on class probabilities (the frameworks compute in float32)
PROBABILITY_TOLERANCE = 1e-4

#: the probe cells, one per framework: each imports its framework (the slow part, under
#: the cell's own time limit, not a check's) and defines one function per check in the
#: student's namespace
PROBE_SOURCE = {
    "keras": '''
import os as _dlcourse_os
_dlcourse_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras as _dlcourse_keras
import numpy as _dlcourse_numpy


def _dlcourse_keras_forward(model, weights, X):
    """The model's weight shapes (``weights`` None), or its output with ``weights``."""
    if weights is None:
        return [list(w.shape) for w in model.get_weights()]
    model.set_weights([_dlcourse_numpy.asarray(w, dtype=_dlcourse_numpy.float32)
                       for w in weights])
    return _dlcourse_numpy.asarray(_dlcourse_keras.ops.convert_to_numpy(
        model(X, training=False)), dtype=_dlcourse_numpy.float64)


def _dlcourse_probe_keras_model(input_shape, weights, X):
    return _dlcourse_keras_forward(build_keras_cnn(tuple(input_shape)), weights, X)


def _dlcourse_probe_keras_mlp(input_dim, weights, X):
    return _dlcourse_keras_forward(build_keras_mlp(input_dim), weights, X)


def _dlcourse_probe_keras_optimizer(w, grads, learning_rate):
    keras, numpy = _dlcourse_keras, _dlcourse_numpy
    rule = make_keras_optimizer(learning_rate)
    variable = keras.Variable(numpy.asarray(w, dtype=numpy.float64), dtype="float64")
    path = []
    for g in grads:
        rule.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), variable)])
        path.append(numpy.array(keras.ops.convert_to_numpy(variable), dtype=numpy.float64))
    return path
''',
    "torch": '''
import numpy as _dlcourse_numpy
import torch as _dlcourse_torch


def _dlcourse_probe_torch_model(input_shape, weights, X):
    numpy, torch = _dlcourse_numpy, _dlcourse_torch
    model = build_torch_cnn(tuple(input_shape))
    state = model.state_dict()
    names = [k for k, v in state.items() if v.is_floating_point()]
    if weights is None:
        return [list(state[k].shape) for k in names]
    state.update({k: torch.tensor(numpy.asarray(w), dtype=state[k].dtype)
                  for k, w in zip(names, weights)})
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(X, dtype=torch.float32))
    return torch.softmax(logits, dim=1).double().numpy()


def _dlcourse_probe_torch_optimizer(w, grads, learning_rate):
    numpy, torch = _dlcourse_numpy, _dlcourse_torch
    parameter = torch.nn.Parameter(torch.tensor(numpy.asarray(w), dtype=torch.float64))
    rule = make_torch_optimizer([parameter], learning_rate)
    path = []
    for g in grads:
        parameter.grad = torch.tensor(numpy.asarray(g), dtype=torch.float64)
        rule.step()
        path.append(parameter.detach().numpy().copy())
    return path
''',
}
#: the time limit of a probe cell (a framework's first import in the sandbox)
PROBE_IMPORT_SECONDS = 90.0

#: (check, framework) -> the probe function PROBE_SOURCE[framework] defines
PROBES = {(kind, framework): f"_dlcourse_probe_{framework}_{kind}"
          for kind in ("model", "optimizer") for framework in ("keras", "torch")}
PROBES[("mlp", "keras")] = "_dlcourse_probe_keras_mlp"
#: what the probe builds, for messages
BUILDERS = {("model", "keras"): "build_keras_cnn", ("model", "torch"): "build_torch_cnn",
            ("mlp", "keras"): "build_keras_mlp", ("optimizer", "keras"): "make_keras_optimizer",
            ("optimizer", "torch"): "make_torch_optimizer"}


# ----------------------------------------------------------------------------
# The roll's CNN in NumPy: conv -> batch norm -> ReLU -> 2x2 pooling -> dense -> softmax
# ----------------------------------------------------------------------------
def pooled_size(size, config):
    """Side length after the roll's conv ("same" padding) and 2x2 pooling."""
    return -(-size // config["cnn_stride"]) // 2


def draw_weights(rng, config, channels, size):
    """Weights of the roll's CNN in the scratch layout (NCHW; dense rows in C, H, W order)."""
    f, k = config["cnn_filters"], config["cnn_kernel_size"]
    inputs = f * pooled_size(size, config) ** 2
    return {
        "conv_w": rng.normal(0, 1 / k, (f, channels, k, k)), "conv_b": rng.normal(0, 0.1, f),
        "gamma": rng.uniform(0.5, 1.5, f), "beta": rng.normal(0, 0.2, f),
        "mean": rng.normal(0, 0.2, f), "var": rng.uniform(0.02, 0.2, f),
        "dense_w": rng.normal(0, 1 / np.sqrt(inputs), (inputs, 2)),
        "dense_b": rng.normal(0, 0.1, 2),
    }


def framework_weights(weights, framework, config, size):
    """The weight list ``model.set_weights`` (Keras) or the state dict (PyTorch) takes."""
    w = weights
    norm = [w["gamma"], w["beta"], w["mean"], w["var"]]
    if framework == "keras":
        side = pooled_size(size, config)
        dense = dense_kernel_after_flatten(w["dense_w"], (config["cnn_filters"], side, side))
        return [w["conv_w"].transpose(2, 3, 1, 0), w["conv_b"], *norm, dense, w["dense_b"]]
    return [w["conv_w"], w["conv_b"], *norm, w["dense_w"].T, w["dense_b"]]


def reference_probabilities(X, weights, config, *, pooling=None, eps=BN_EPSILON,
                            pad="same", relu_first=False):
    """Class probabilities of the roll's CNN on NCHW images (the keywords give the
    variants the diagnosis tries: another pooling, epsilon, padding or layer order)."""
    w = weights
    out = conv.conv2d_forward(X, w["conv_w"], w["conv_b"], config["cnn_stride"], pad)[0]
    channel = (slice(None), None, None)

    def norm(x):
        return (x - w["mean"][channel]) / np.sqrt(w["var"][channel] + eps) \
            * w["gamma"][channel] + w["beta"][channel]

    out = norm(np.maximum(out, 0.0)) if relu_first else np.maximum(norm(out), 0.0)
    out = conv.POOLING[pooling or config["cnn_pooling"]][0](out, 2)[0]
    logits = out.reshape(len(X), -1) @ w["dense_w"] + w["dense_b"]
    return _softmax(logits)


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------
# Diagnosis: which field of the spec the student's model differs in
# ----------------------------------------------------------------------------
WEIGHT_NAMES = ("conv kernel", "conv bias", "batch-norm gamma", "batch-norm beta",
                "batch-norm moving mean", "batch-norm moving variance", "dense kernel",
                "dense bias")


def shape_differences(got, want, framework, config, size):
    """Why the student's weight shapes differ from the roll's CNN, as a message."""
    if len(got) != len(want):
        hint = " (no batch normalisation?)" if len(got) == len(want) - 4 else ""
        return (f"the model has {len(got)} weight arrays, the CNN of your roll number "
                f"{len(want)}: {', '.join(WEIGHT_NAMES)}{hint}")
    kernel = got[0]
    filters, k = config["cnn_filters"], config["cnn_kernel_size"]
    got_filters, got_k = (kernel[3], kernel[0]) if framework == "keras" else \
        (kernel[0], kernel[2])
    if kernel != want[0]:
        return (f"the conv layer has {got_filters} filters of {got_k}x{got_k} (kernel "
                f"{tuple(kernel)}): your roll number gives {filters} filters of {k}x{k} "
                "(CONFIG['cnn_filters'], CONFIG['cnn_kernel_size'])")
    dense_in = got[6][0] if framework == "keras" else got[6][-1]
    side = pooled_size(size, config)
    if got[6] != want[6]:
        return (f"the dense layer takes {dense_in} inputs, not {filters * side * side} = "
                f"{filters} x {side} x {side} for {size}x{size} images: your roll number's "
                f"stride is {config['cnn_stride']} (CONFIG['cnn_stride']), with 'same' "
                "padding and 2x2 pooling")
    wrong = [f"{name} {tuple(g)} (expected {tuple(w)})"
             for name, g, w in zip(WEIGHT_NAMES, got, want, strict=True) if g != w]
    return "weight shapes differ from your roll number's CNN: " + "; ".join(wrong)


def output_mistake(got, X, weights, config, framework):
    """A phrase naming the variant of the roll's CNN the student's outputs equal, or ""."""
    mine = config["cnn_pooling"]
    other = next(p for p in conv.POOLING if p != mine)
    variants = [
        (f"this is {other} pooling: your roll number's pooling is {mine} "
         "(CONFIG['cnn_pooling'])", {"pooling": other}),
        ("batch norm uses epsilon 1e-5 (PyTorch's default): the course uses 1e-3 in both "
         "frameworks", {"eps": 1e-5}),
        ("ReLU comes before batch norm: the order is conv -> batch norm -> ReLU",
         {"relu_first": True}),
    ]
    k = config["cnn_kernel_size"]
    if config["cnn_stride"] > 1:
        variants.append((f"the padding is symmetric ({k // 2} on every side): 'same' with "
                         "stride 2 puts the extra row and column at the bottom and right "
                         "(dlcourse.nets.same_padding)", {"pad": k // 2}))
    for phrase, change in variants:
        try:
            wrong = reference_probabilities(X, weights, config, **change)
        except ValueError:
            continue
        if wrong.shape == got.shape and np.allclose(got, wrong, atol=PROBABILITY_TOLERANCE):
            return phrase
    want = reference_probabilities(X, weights, config)
    if framework == "torch" and np.allclose(got, _softmax(want), atol=PROBABILITY_TOLERANCE):
        return ("softmax is applied twice: build_torch_cnn returns logits "
                "(cross_entropy applies the softmax)")
    if not np.allclose(got.sum(axis=1), 1.0, atol=1e-3):
        return "the outputs are not probabilities: end with a softmax over the 2 classes"
    return ""


# ----------------------------------------------------------------------------
# The roll's MLP (module 03's roll compare): dense layers, the roll's activations, sigmoid
# ----------------------------------------------------------------------------
#: probabilities compared at this tolerance (Keras computes in float32)
MLP_TOLERANCE = 1e-5
#: Keras' default negative slope of ``leaky_relu`` (the course's is LEAKY_RELU_ALPHA)
KERAS_LEAKY_SLOPE = 0.2


def draw_mlp_weights(rng, config, input_dim):
    """``[W1, b1, W2, b2, ...]`` of the roll's MLP; kernels (in, out), as Keras stores them."""
    sizes = [input_dim, *[config["hidden_units"]] * config["num_hidden_layers"], 1]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights += [rng.normal(0, 1.5 / np.sqrt(fan_in), (fan_in, fan_out)),
                    rng.normal(0, 0.3, fan_out)]
    return weights


def mlp_probabilities(X, weights, activations, leaky_slope=LEAKY_RELU_ALPHA):
    """P(y=1), shape (N,), of dense layers with ``activations`` and a sigmoid output."""
    functions = {"relu": lambda z: np.maximum(z, 0.0),
                 "leaky_relu": lambda z: np.where(z > 0, z, leaky_slope * z),
                 "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
    h = X
    for i, name in enumerate(activations):
        h = functions[name](h @ weights[2 * i] + weights[2 * i + 1])
    z = h @ weights[-2] + weights[-1]
    return functions["sigmoid"](z).reshape(-1)


def mlp_mistake(got, X, weights, config):
    """A phrase naming the variant of the roll's MLP the student's outputs equal, or ""."""
    if "leaky_relu" in config["activations"]:
        slope = mlp_probabilities(X, weights, config["activations"], KERAS_LEAKY_SLOPE)
        if np.allclose(got, slope, atol=MLP_TOLERANCE):
            return (f"leaky_relu with Keras' default slope {KERAS_LEAKY_SLOPE}: the course's "
                    f"is {LEAKY_RELU_ALPHA} (keras.layers.LeakyReLU(negative_slope="
                    f"{LEAKY_RELU_ALPHA}))")
    params = {f"{kind}{i // 2 + 1}": w for i, w in enumerate(weights)
              for kind in ("W" if i % 2 == 0 else "b",)}
    for phrase, wrong in network_mistakes(config):
        if np.allclose(got, wrong(X, params), atol=MLP_TOLERANCE):
            return phrase
    return ""


def mlp_shape_differences(got, want, config):
    """Why the student's MLP has other weight shapes than the roll's, as a message."""
    units = [s[1] for s in got[0::2] if len(s) == 2]
    want_units = [config["hidden_units"]] * config["num_hidden_layers"]
    return (f"the dense layers have {units[:-1]} hidden units and {units[-1:]} output: your "
            f"roll number gives {want_units} (CONFIG['hidden_units'], "
            "CONFIG['num_hidden_layers']) and 1 sigmoid output"
            if units else f"weight shapes {got} are not those of dense layers")


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------
def _probe(ctx, sub, kind):
    """Send the probe cell; the name of the probe function to call, or (None, why not)."""
    if not ctx.roll_number:
        return None, "no roll number: your roll number's network cannot be checked"
    framework = sub.params["framework"]
    loaded = ctx.host.exec_cell(PROBE_SOURCE[framework], timeout=PROBE_IMPORT_SECONDS)
    if not loaded.ok or loaded.value:
        return None, f"the checker could not run its probe: {loaded.error or loaded.value}"
    return PROBES[(kind, framework)], None


def check_framework_model(ctx, sub):
    """The student's model with the roll's weights copied in gives the roll's outputs."""
    framework = sub.params["framework"]
    builder = BUILDERS[("model", framework)]
    probe, failure = _probe(ctx, sub, "model")
    if failure:
        return False, failure
    config, size = ctx.config, int(ctx.rng.choice(PROBE_SIZES))
    input_shape = [size, size, 1] if framework == "keras" else [1, size, size]
    shapes = ctx.call(sub, probe, input_shape, None, None)
    if not shapes.ok:
        return False, f"{builder}({tuple(input_shape)}): {shapes.error}"
    weights = draw_weights(ctx.rng, config, 1, size)
    sent = framework_weights(weights, framework, config, size)
    want_shapes = [list(w.shape) for w in sent]
    got_shapes = shapes.value
    if type(got_shapes) is not list or not all(type(s) is list for s in got_shapes):
        return False, f"{builder}() did not build a {framework} model"
    if got_shapes != want_shapes:
        return False, shape_differences(got_shapes, want_shapes, framework, config, size)
    X = ctx.rng.normal(size=(PROBE_IMAGES, 1, size, size))
    images = X.transpose(0, 2, 3, 1) if framework == "keras" else X
    result = ctx.call(sub, probe, input_shape, sent, images)
    if not result.ok:
        return False, f"{builder}(): {result.error}"
    got, want = result.value, reference_probabilities(X, weights, config)
    if type(got) is not np.ndarray or got.shape != want.shape:
        return False, (f"{builder}() model should map {PROBE_IMAGES} images to class "
                       f"probabilities of shape {want.shape}")
    if np.allclose(got, want, atol=PROBABILITY_TOLERANCE):
        return True, "computes your roll number's CNN (weights copied in, outputs compared)"
    worst = float(np.abs(got - want).max()) if np.all(np.isfinite(got)) else float("nan")
    hint = output_mistake(got, X, weights, config, framework)
    reason = (f"with your roll number's CNN weights copied in, the probabilities differ by "
              f"up to {worst:.3g}")
    return False, f"{reason}; likely: {hint}" if hint else reason


def check_framework_mlp(ctx, sub):
    """The student's Keras MLP with the roll's weights copied in gives the roll's outputs."""
    probe, failure = _probe(ctx, sub, "mlp")
    if failure:
        return False, failure
    config, input_dim = ctx.config, int(ctx.rng.integers(2, 5))
    shapes = ctx.call(sub, probe, input_dim, None, None)
    if not shapes.ok:
        return False, f"build_keras_mlp({input_dim}): {shapes.error}"
    weights = draw_mlp_weights(ctx.rng, config, input_dim)
    want_shapes = [list(w.shape) for w in weights]
    got_shapes = shapes.value
    if type(got_shapes) is not list or not all(type(s) is list for s in got_shapes):
        return False, "build_keras_mlp() did not build a Keras model"
    if got_shapes != want_shapes:
        return False, mlp_shape_differences(got_shapes, want_shapes, config)
    X = ctx.rng.normal(0, 2, size=(16, input_dim))
    result = ctx.call(sub, probe, input_dim, weights, X)
    if not result.ok:
        return False, f"build_keras_mlp(): {result.error}"
    got, want = result.value, mlp_probabilities(X, weights, config["activations"])
    if type(got) is not np.ndarray or got.size != want.size:
        return False, "build_keras_mlp() model should map 16 samples to 16 probabilities"
    got = got.reshape(-1)
    if np.allclose(got, want, atol=MLP_TOLERANCE):
        return True, "computes your roll number's MLP (weights copied in, outputs compared)"
    worst = float(np.abs(got - want).max()) if np.all(np.isfinite(got)) else float("nan")
    hint = mlp_mistake(got, X, weights, config)
    reason = (f"with your roll number's MLP weights copied in, the probabilities differ by "
              f"up to {worst:.3g}")
    return False, f"{reason}; likely: {hint}" if hint else reason


def check_framework_optimizer(ctx, sub):
    """The student's optimizer moves a parameter as the roll's rule does."""
    builder = BUILDERS[("optimizer", sub.params["framework"])]
    probe, failure = _probe(ctx, sub, "optimizer")
    if failure:
        return False, failure
    config, r = ctx.config, ctx.rng
    w = r.normal(size=(3, 4))
    # gradients away from zero, so epsilon conventions (1e-7 vs 1e-8) cannot matter
    grads = [r.choice((-1.0, 1.0), (3, 4)) * r.uniform(0.5, 2.0, (3, 4)) for _ in range(4)]
    rate = float(np.round(r.uniform(0.01, 0.1), 4))
    want = optim.trajectory(config["optimizer"], w, grads, rate)
    result = ctx.call(sub, probe, w, grads, rate)
    if not result.ok:
        return False, f"{builder}(): {result.error}"
    reason = mismatch(result.value, want, sub.tolerance, f"{builder}({rate}) after 4 steps")
    if reason is None:
        return True, f"moves a parameter as {config['optimizer']} does"
    hint = likely_mistake("run_optimizer", (w, grads, rate), {}, result.value, want,
                          sub.tolerance, config=config)
    return False, f"{reason}; likely: {hint}" if hint else reason


def check_framework_training(ctx, sub):
    """A training function returns held-out class probabilities; the parent scores them."""
    X, y = data.make_bars(240, seed=int(ctx.rng.integers(2**31)), size=CNN_SIZE)
    X_tr, y_tr, X_te, y_te = _split(X, y, ctx.rng, 80)
    result = ctx.call(sub, sub.functions[0], X_tr, y_tr, X_te)
    if not result.ok:
        return False, result.error
    probs = result.value
    if type(probs) is not np.ndarray or probs.shape != (len(y_te), 2):
        return False, f"{sub.functions[0]}() should return probabilities of shape ({len(y_te)}, 2)"
    if not np.all(np.isfinite(probs)):
        return False, "probabilities are not finite"
    acc = metrics.accuracy(y_te, probs.argmax(axis=1))
    limit = sub.params.get("min_accuracy", 0.85)
    return acc >= limit, f"held-out accuracy {acc:.3f} (needs >= {limit})"


CHECKS = {
    "framework_model": check_framework_model,
    "framework_mlp": check_framework_mlp,
    "framework_optimizer": check_framework_optimizer,
    "framework_training": check_framework_training,
}
