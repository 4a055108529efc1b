"""The probe cells of module 06's checks: a framework model cannot cross the wire, so the
checker sends a cell (:data:`PROBE_SOURCE`) into the student's process that builds the
student's model or optimizer there and answers with plain data only (weight shapes,
outputs, a parameter's path). Nothing it returns is trusted beyond being data."""

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

