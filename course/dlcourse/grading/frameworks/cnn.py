"""The roll's CNN in NumPy, the reference of ``build_keras_cnn`` / ``build_torch_cnn``:
conv -> batch norm -> ReLU -> 2x2 pooling -> dense -> softmax, its weights in each
framework's layout, and which field of the spec a wrong model differs in."""

from __future__ import annotations

import numpy as np

from dlcourse import conv
from dlcourse.twins import dense_kernel_after_flatten

#: batch norm's epsilon in both frameworks (Keras' default; PyTorch's is 1e-5)
BN_EPSILON = 1e-3
#: tolerance on class probabilities (the frameworks compute in float32)
PROBABILITY_TOLERANCE = 1e-4


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

