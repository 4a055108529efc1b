"""Module 07's experiments built on the harness: the learning-rate sweep, the roll
number's ablation, and the artifact's numbers reproduced by the student's own code."""

from __future__ import annotations

from dlcourse.grading.comparison import mismatch
from dlcourse.grading.projects.artifact import artifact_metrics
from dlcourse.grading.projects.harness import (
    LEARNING_RATE,
    fresh_config,
    harness_record,
    learnable_config,
)
from dlcourse.roll import SCHEMA, derive_config

ACTIVATIONS = SCHEMA["activations"].choices


def check_sweep(ctx, sub):
    """``sweep(config, rates)`` equals ``[run_experiment(config, r)["val_accuracy"] ...]``
    in the order given. The grid is two trainable rates in random order, then 0 (the
    untrained model): sorting or reversing it moves the untrained entry.

    If ``run_experiment`` itself gives other numbers when called again (an unseeded
    harness, which ``harness_seeded`` already costs), only the rate-0 entry can be
    compared: a training run's accuracy is then noise, not the sweep's fault.
    """
    config = learnable_config(ctx)
    rates = [float(r) for r in ctx.rng.permutation([0.003, LEARNING_RATE])] + [0.0]
    result = ctx.call(sub, "sweep", config, rates)
    if not result.ok:
        return False, result.error

    def records(again=False):
        found = []
        for rate in rates:
            key = None if again else ("run_experiment", "learnable", rate)
            rec, reason = harness_record(ctx.call(sub, "run_experiment", config, rate, key=key))
            if reason:
                raise LookupError(f"run_experiment() for the comparison: {reason}")
            found.append({"val_accuracy": float(rec["val_accuracy"]),
                          "val_loss": float(rec["val_loss"])})
        return found

    try:
        first = records()
        want = [rec["val_accuracy"] for rec in first]
        reason = mismatch(result.value, want, sub.tolerance, f"sweep(config, {rates})")
        if reason is None:
            return True, "one validation accuracy per rate, in order"
        if mismatch(records(again=True), first, sub.tolerance) is None:  # reproducible
            return False, reason
    except LookupError as exc:
        return False, str(exc)
    got = result.value
    if type(got) is not list or len(got) != len(rates):
        return False, reason
    untrained = mismatch(got[-1], want[-1], sub.tolerance, "the rate-0 entry")
    return untrained is None, (untrained or "run_experiment() is not reproducible, so only "
                               "the rate-0 entry was compared: it is in place")


#: the keys each ablation of module 07 changes (a roll config's ``ablation``)
ABLATED_KEYS = {"depth": ("num_hidden_layers", "activations"), "width": ("hidden_units",)}


def ablated(config, kind):
    """The reference ablation ``kind`` of ``config``: ``"depth"`` keeps one hidden layer
    with the first activation; ``"width"`` halves the hidden units."""
    if kind == "depth":
        return {**config, "num_hidden_layers": 1, "activations": config["activations"][:1]}
    return {**config, "hidden_units": config["hidden_units"] // 2}


def check_ablation(ctx, sub):
    """``ablate(config)`` on a 3-hidden-layer config the checker draws, against the
    ablation of the graded roll number (``CONFIG["ablation"]``).

    part "change": the keys that ablation changes; part "others": every other key of
    the config unchanged.
    """
    fn = sub.functions[0]
    if not ctx.roll_number:
        return False, "no roll number: your ablation cannot be checked"
    kind = ctx.config["ablation"]
    if "ablation" not in ctx.cache:
        config = fresh_config(ctx.rng, num_hidden_layers=3,
                               activations=[str(a) for a in ctx.rng.choice(ACTIVATIONS, 3)])
        ctx.cache["ablation"] = config, ctx.call(sub, fn, config)
    config, result = ctx.cache["ablation"]
    if not result.ok:
        return False, result.error
    if type(result.value) is not dict:
        return False, f"{fn}() should return a dict (a config)"
    want, changed = ablated(config, kind), ABLATED_KEYS[kind]
    keys = changed if sub.params["part"] == "change" else [k for k in want if k not in changed]
    reason = mismatch(result.value, {k: want[k] for k in keys}, sub.tolerance, f"{fn}()")
    if reason is None:
        return True, f"matches the {kind} ablation"
    other = next(k for k in ABLATED_KEYS if k != kind)
    if mismatch(result.value, ablated(config, other), sub.tolerance) is None:
        reason += (f"; likely: this is the {other} ablation: your roll number's ablation is "
                   f"{kind} (CONFIG['ablation'])")
    return False, reason



def reproduce_experiments(ctx, sub):
    """Module 07: rerun the learning-rate sweep and the ablation with the roll's config."""
    if not ctx.roll_number:
        return False, "no roll number: the artifact cannot be checked"
    config = derive_config(ctx.roll_number)
    rate = config["learning_rate"]
    grid = [rate * f for f in (0.3, 1.0, 3.0)]  # the notebook's sweep grid
    accs = ctx.call(sub, "sweep", config, grid)
    if not accs.ok:
        return False, f"rerunning your sweep: {accs.error}"
    values = accs.value
    if type(values) is not list or len(values) != 3 or \
            any(type(v) not in (int, float) for v in values):
        return False, "rerunning your sweep: sweep() should return 3 numbers"
    smaller = ctx.call(sub, "ablate", config)
    if not smaller.ok:
        return False, f"rerunning your ablation: {smaller.error}"
    want = {"best_sweep_accuracy": float(max(values))}
    for name, cfg in (("full", config), ("ablated", smaller.value)):
        rec, reason = harness_record(ctx.call(sub, "run_experiment", cfg, rate))
        if reason:
            return False, f"rerunning your ablation: {reason}"
        want.update({f"{name}_{key}": float(rec[key]) for key in ("val_accuracy", "val_loss")})
    return artifact_metrics(ctx, want, "the sweep and ablation your code reproduces")

