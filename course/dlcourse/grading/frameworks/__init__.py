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

The probe cells are in ``probes``; the roll's CNN and MLP in NumPy, with the diagnosis of
a model that differs, in ``cnn`` and ``mlp``; the checks here.
"""

from __future__ import annotations

import numpy as np

from dlcourse import data, metrics, optim
from dlcourse.grading.comparison import mismatch
from dlcourse.grading.diagnosis import likely_mistake
from dlcourse.grading.frameworks.cnn import (
    PROBABILITY_TOLERANCE,
    draw_weights,
    framework_weights,
    output_mistake,
    reference_probabilities,
    shape_differences,
)
from dlcourse.grading.frameworks.mlp import (
    MLP_TOLERANCE,
    draw_mlp_weights,
    mlp_mistake,
    mlp_probabilities,
    mlp_shape_differences,
)
from dlcourse.grading.frameworks.probes import (
    BUILDERS,
    PROBE_IMPORT_SECONDS,
    PROBE_SOURCE,
    PROBES,
)
from dlcourse.grading.training import CNN_SIZE, holdout_split

#: images the model probe runs; their side length is drawn from these
PROBE_IMAGES, PROBE_SIZES = 6, (8, 10)


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
    X_tr, y_tr, X_te, y_te = holdout_split(X, y, ctx.rng, 80)
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
