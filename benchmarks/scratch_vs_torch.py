"""Time one training step of the scratch models against their PyTorch twins.

Prints, from one run, scratch time / PyTorch-CPU time per step for

- the module-5 CNN: batch 32 of 1x16x16 ``make_shapes`` images, the roll
  config's conv (filters, kernel, stride, pooling) and the largest conv the
  roll schema allows (16 filters, 5x5, stride 1);
- the module-2 MLP: batch 64 of 2-D ``make_moons`` points, the roll config's
  hidden layers and the largest MLP the schema allows (3 x 64).

A step is forward + backward + plain SGD update with the same weights
(``dlcourse.twins.torch_twin``), timed in float64 (the course's checking
precision; PyTorch has no oneDNN conv kernels for it) and in float32
(PyTorch's default dtype). Both run single-threaded
(torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1): on 2-core lab machines
a second BLAS thread only adds overhead at these sizes. Each figure is the
best per-step mean over several interleaved rounds, which filters out noise
from other processes. Targets: CNN <= 3x, MLP <= 1.5x.

Usage: python benchmarks/scratch_vs_torch.py [--roll CS2024007] [--rounds 7]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported

import argparse  # noqa: E402
import functools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dlcourse import data, optim  # noqa: E402
from dlcourse.models import MLP, SmallCNN  # noqa: E402
from dlcourse.roll import derive_config  # noqa: E402
from dlcourse.twins.torch_twin import to_torch, torch_loss  # noqa: E402

TARGETS = {"CNN": 3.0, "MLP": 1.5}
LR = 0.01


def scratch_step(model, X, y):
    """One forward/backward/SGD step of a scratch model."""
    configs = {k: {"learning_rate": LR} for k in model.params}

    def step():
        _, grads = model.loss(X, y)
        for name, grad in grads.items():
            model.params[name], _ = optim.sgd(model.params[name], grad, configs[name])

    return step


def torch_step(model, X, y):
    """One forward/backward/SGD step of the PyTorch twin of ``model`` (model's dtype)."""
    dtype = torch.float32 if model.params["W1"].dtype == np.float32 else torch.float64
    net, loss_fn = to_torch(model).to(dtype), torch_loss(model)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X).to(dtype), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss_fn(net(Xt), yt).backward()
        opt.step()

    return step


def per_step_seconds(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(model, X, y, rounds, steps):
    """Best-of-rounds seconds per step: (scratch, torch), measured interleaved."""
    X = X.astype(model.params["W1"].dtype)
    ours, theirs = scratch_step(model, X, y), torch_step(model, X, y)
    for warm in (ours, theirs):
        per_step_seconds(warm, 5)
    best = [np.inf, np.inf]
    for _ in range(rounds):
        best[0] = min(best[0], per_step_seconds(ours, steps))
        best[1] = min(best[1], per_step_seconds(theirs, steps))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roll", default="CS2024007", help="roll number for the config")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = derive_config(args.roll)

    images, labels = data.make_shapes(32, seed=0)
    points, targets = data.make_moons(64, seed=0)
    largest = {**config, "cnn_filters": 16, "cnn_kernel_size": 5, "cnn_stride": 1,
               "cnn_pooling": "max", "hidden_units": 64, "num_hidden_layers": 3,
               "activations": ["relu", "tanh", "sigmoid"]}
    cases = []
    for name, cfg in ((args.roll, config), ("largest", largest)):
        desc = (f"{cfg['cnn_filters']}x{cfg['cnn_kernel_size']}x{cfg['cnn_kernel_size']}"
                f" s{cfg['cnn_stride']} {cfg['cnn_pooling']}-pool")
        cnn = functools.partial(SmallCNN.from_config, cfg, input_shape=(1, 16, 16), num_classes=3)
        cases.append(("CNN", name, desc, cnn, images, labels, 40))
        mlp = functools.partial(MLP.from_config, cfg, input_dim=2)
        desc = "2-" + "-".join(map(str, mlp().hidden_units)) + "-1 " + "/".join(cfg["activations"])
        cases.append(("MLP", name, desc, mlp, points, targets, 300))

    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 thread each, "
          f"CNN batch 32 x 1x16x16, MLP batch 64 x 2; ms per training step")
    print(f"{'model':<5} {'config':<10} {'architecture':<34} "
          f"{'float64: scratch / torch = ratio':>34}   {'float32: scratch / torch = ratio':>34}")
    for kind, name, desc, build, X, y, steps in cases:
        cells, worst = [], 0.0
        for dtype in (np.float64, np.float32):
            ours, theirs = compare(build(dtype=dtype), X, y, args.rounds, steps)
            worst = max(worst, ours / theirs)
            cells.append(f"{ours * 1e3:8.3f} / {theirs * 1e3:8.3f} = {ours / theirs:5.2f}x")
        verdict = "ok" if worst <= TARGETS[kind] else "MISSED"
        print(f"{kind:<5} {name:<10} {desc:<34} {cells[0]:>34}   {cells[1]:>34}"
              f"   target <= {TARGETS[kind]}x: {verdict}")

if __name__ == "__main__":
    main()
