"""Checks for the project modules: the experiment harness (07) and the capstone (08).

Like everything in ``checks``, these run in the parent: they draw their own
configurations, learning rates and data, call the student's functions in the child and
judge what comes back with the course library. Training runs are noisy by design, so
trained results are judged by behaviour (a loss that falls, a held-out metric above a
bar, identical results for identical calls), while everything that does not depend on
training noise is exact: the untrained model's validation numbers, the roll-number spec,
the artifact's contents.

Both modules' notebooks write ``submission_<roll>.json`` with ``dlcourse.artifacts``
while the grader runs them (``SUBMISSION_DIR`` is the child's scratch directory); the
artifact checks read that file, verify it against the roll number the grader was given,
and call the student's own functions again to reproduce the numbers it holds.

The data recipes (``experiment_split``, ``capstone_data``) mirror the locked data cells
of the two notebooks; the reference solutions' artifact checks fail if they drift apart.
"""

from __future__ import annotations

import json

import numpy as np

from dlcourse import data, metrics
from dlcourse.artifacts import artifact_filename, verify_submission
from dlcourse.grading.checks import mismatch, spec_differences
from dlcourse.roll import SCHEMA, derive_config, normalize_roll_number

ACTIVATIONS = SCHEMA["activations"].choices


def _fresh_config(rng, **overrides):
    """A roll-number config of a random (made-up) roll number, with ``overrides``."""
    return {**derive_config(f"ZZ{int(rng.integers(10**9)):09d}"), **overrides}


# ----------------------------------------------------------------------------
# Module 07: the experiment harness, the sweep, the ablation
# ----------------------------------------------------------------------------
def experiment_split(roll):
    """Module 07's data, as the notebook's locked cell makes it: 300 moons seeded by the
    roll number's config, split 60/20/20 with seed 0."""
    X, y = data.make_moons(300, seed=derive_config(roll)["seed"] % 1000, noise=0.15)
    return data.train_val_test_split(X, y, seed=0)


def _untrained(config, split):
    """Validation accuracy and loss of ``MLP.from_config(config)`` before any update: the
    notebook's model (``dlcourse.nets``, which the student's process also has), so that
    both sides compute the same numbers. PyTorch is imported here, not with the module:
    every other lab's checker starts without it."""
    from dlcourse import nets

    val = nets.MLP.from_config(config, input_dim=2).evaluate(split.X_val, split.y_val)
    return {"val_accuracy": float(val["accuracy"]), "val_loss": float(val["loss"])}


def _record(result, fn="run_experiment"):
    """(record, None) for a well-formed ``run_experiment`` record, else (None, reason)."""
    if not result.ok:
        return None, result.error
    rec = result.value
    if type(rec) is not dict or not {"val_accuracy", "val_loss"} <= set(rec):
        return None, f"{fn}() should return a dict with val_accuracy and val_loss"
    for key in ("val_accuracy", "val_loss"):
        if type(rec[key]) not in (int, float) or not np.isfinite(rec[key]):
            return None, f"{fn}()[{key!r}] should be a finite number, got {rec[key]!r}"
    return rec, None


#: the harness checks' trainable experiment: Adam at this rate learns the moons in 10
#: epochs (the reference's validation loss ratio: 0.28 median, 0.86 worst, 2 of 1000
#: configs above 0.8, hence ``LEARNING_CONFIGS``); the config's own learning_rate is a
#: decoy the harness must not use
LEARNING_RATE, DECOY_RATE = 0.03, 1e-5

#: configs tried before "learns" fails: a second, fresh config when the first one's run
#: falls short of the bar (a bad initialisation is not the student's fault)
LEARNING_CONFIGS = 2


def _learnable_config(ctx, attempt=0):
    """The checker's trainable config number ``attempt`` (drawn once per grading)."""
    configs = ctx.cache.setdefault("learnable_configs", [])
    while len(configs) <= attempt:
        depth = int(ctx.rng.integers(1, 3))
        configs.append(_fresh_config(
            ctx.rng, optimizer="adam", learning_rate=DECOY_RATE, batch_size=32,
            hidden_units=int(ctx.rng.choice([16, 24, 32])), num_hidden_layers=depth,
            activations=[str(a) for a in ctx.rng.choice(["relu", "tanh", "leaky_relu"],
                                                        depth)]))
    return configs[attempt]


def _learns(ctx, sub, fn, split):
    """harness_learns: the validation loss of a trainable run falls below ``max_ratio`` x
    the untrained loss, on the first of ``LEARNING_CONFIGS`` configs that does."""
    limit = sub.params["max_ratio"]
    for attempt in range(LEARNING_CONFIGS):
        config = _learnable_config(ctx, attempt)
        key = (fn, "learnable", LEARNING_RATE) if attempt == 0 else None
        rec, reason = _record(ctx.call(sub, fn, config, LEARNING_RATE, key=key), fn)
        if reason:
            return False, reason
        start = _untrained(config, split)["val_loss"]
        passed = rec["val_loss"] < limit * start
        message = (f"validation loss {start:.4f} untrained -> {rec['val_loss']:.4f} with "
                   f"learning rate {LEARNING_RATE} (needs < {limit} x untrained)")
        if passed:
            break
    if attempt:
        message += (f" (on the second of {attempt + 1} configs)" if passed else
                    f" (and on {attempt} other config(s))")
    return passed, message


def check_harness(ctx, sub):
    """``run_experiment(config, learning_rate, epochs)`` on configs the checker draws.

    part "untrained": learning rate 0 leaves every optimizer's weights where
    ``MLP.from_config`` put them, so the record must equal that model's validation
    accuracy and loss on the roll number's split, exactly (this pins the model, the
    split, the loss and the use of the learning-rate argument).
    part "learns": with a trainable rate the validation loss must fall below
    ``max_ratio`` x the untrained loss. part "seeded": the same call twice gives the
    same record.
    """
    if not ctx.roll_number:
        return False, "no roll number: the notebook's data cannot be rebuilt"
    fn, part = sub.functions[0], sub.params["part"]
    split = experiment_split(ctx.roll_number)
    if part == "untrained":
        config = _fresh_config(ctx.rng)
        rec, reason = _record(ctx.call(sub, fn, config, 0.0, epochs=3), fn)
        if reason:
            return False, reason
        want = _untrained(config, split)
        reason = mismatch({k: rec[k] for k in want}, want, sub.tolerance,
                          f"{fn}(config, learning_rate=0)")
        return reason is None, reason or "learning rate 0 reports the untrained model"
    if part == "learns":
        return _learns(ctx, sub, fn, split)
    config = _learnable_config(ctx)
    first, reason = _record(ctx.call(sub, fn, config, LEARNING_RATE,
                                     key=(fn, "learnable", LEARNING_RATE)), fn)
    if reason:
        return False, reason
    again, reason = _record(ctx.call(sub, fn, config, LEARNING_RATE), fn)
    if reason:
        return False, reason
    reason = mismatch(again, first, sub.tolerance, f"{fn}() called again")
    return reason is None, (f"the same call gave a different record: {reason}" if reason
                            else "the same call gives the same record")


def check_sweep(ctx, sub):
    """``sweep(config, rates)`` equals ``[run_experiment(config, r)["val_accuracy"] ...]``
    in the order given. The grid is two trainable rates in random order, then 0 (the
    untrained model): sorting or reversing it moves the untrained entry.

    If ``run_experiment`` itself gives other numbers when called again (an unseeded
    harness, which ``harness_seeded`` already costs), only the rate-0 entry can be
    compared: a training run's accuracy is then noise, not the sweep's fault.
    """
    config = _learnable_config(ctx)
    rates = [float(r) for r in ctx.rng.permutation([0.003, LEARNING_RATE])] + [0.0]
    result = ctx.call(sub, "sweep", config, rates)
    if not result.ok:
        return False, result.error

    def records(again=False):
        found = []
        for rate in rates:
            key = None if again else ("run_experiment", "learnable", rate)
            rec, reason = _record(ctx.call(sub, "run_experiment", config, rate, key=key))
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
        config = _fresh_config(ctx.rng, num_hidden_layers=3,
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


# ----------------------------------------------------------------------------
# The artifact both modules write
# ----------------------------------------------------------------------------
def read_artifact(ctx, notebook=None):
    """The ``submission_<roll>.json`` (``..._<notebook>.json``) the notebook wrote for the
    grader's roll number, parsed and verified -> (record, None) or (None, reason). Read
    once per grading."""
    key = ("artifact", notebook)
    if key not in ctx.cache:
        ctx.cache[key] = _read_artifact(ctx, notebook)
    return ctx.cache[key]


def _read_artifact(ctx, notebook):
    if not ctx.roll_number:
        return None, "no roll number: the artifact cannot be checked"
    name = artifact_filename(ctx.roll_number, notebook)
    result = ctx.host.read_output(name)
    if not result.ok:
        return None, result.error
    try:
        record = json.loads(result.value)
    except (ValueError, RecursionError) as exc:
        return None, f"{name} is not JSON ({exc})"
    if type(record) is not dict:
        return None, f"{name} should hold a JSON object"
    try:
        problems = verify_submission(record)
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        problems = [f"cannot be verified ({type(exc).__name__}: {exc})"]
    roll = normalize_roll_number(ctx.roll_number)
    if record.get("roll_number") != roll:
        problems.insert(0, f"roll_number is {record.get('roll_number')!r}, not {roll!r}")
    if problems:
        return None, f"{name}: " + "; ".join(problems)
    if type(record.get("metrics")) is not dict:
        return None, f"{name}: metrics should be an object"
    if record.get("notebook", notebook) != notebook:
        return None, f"{name}: written by {record['notebook']!r}, not {notebook!r}"
    return record, None


def _artifact_metrics(ctx, want, what):
    """Compare the artifact's metrics with ``want`` (numbers the checker reproduced)."""
    record, reason = read_artifact(ctx)
    if reason:
        return False, reason
    got = record["metrics"]
    missing = [k for k in want if k not in got]
    if missing:
        return False, f"the artifact's metrics lack {missing}"
    wrong = [f"{k} = {got[k]!r}, your code gives {v:.6g}" for k, v in want.items()
             if type(got[k]) not in (int, float) or not abs(got[k] - v) <= 1e-9]
    return not wrong, "; ".join(wrong) or f"the artifact holds {what}"


def check_artifact(ctx, sub):
    """The notebook's artifact: part "verifies" (digest, short hash, roll number and
    config of the grader's roll number) or part "reproduced" (its numbers are what the
    student's own functions give again, for the roll number's config)."""
    if sub.params["part"] == "verifies":
        record, reason = read_artifact(ctx)
        return record is not None, reason or "verifies against your roll number"
    return REPRODUCE[sub.params["module"]](ctx, sub)


def _reproduce_experiments(ctx, sub):
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
        rec, reason = _record(ctx.call(sub, "run_experiment", cfg, rate))
        if reason:
            return False, f"rerunning your ablation: {reason}"
        want.update({f"{name}_{key}": float(rec[key]) for key in ("val_accuracy", "val_loss")})
    return _artifact_metrics(ctx, want, "the sweep and ablation your code reproduces")


# ----------------------------------------------------------------------------
# Module 08: the capstone's spec, pipeline and artifact
# ----------------------------------------------------------------------------
#: the roll-number keys each track's spec must carry (the template's ``SPEC_KEYS``)
CAPSTONE_SPEC_KEYS = {
    "churn": ("hidden_units", "num_hidden_layers", "activations", "seed"),
    "vision": ("cnn_filters", "cnn_kernel_size", "cnn_stride", "cnn_pooling", "seed"),
}
#: the artifact's test metric per track
CAPSTONE_METRIC = {"churn": "test_roc_auc", "vision": "test_accuracy"}
SHAPE_SIZE, NUM_SHAPES = 12, 3


def capstone_data(roll, track):
    """The capstone data of a roll number, as the template's ``load_capstone_data``
    makes it -> X, y, (train, val, test) indices."""
    seed = derive_config(roll)["seed"] % 1000
    if track == "churn":
        churn = data.make_churn(1000, seed=seed)
        X, y = churn.X, churn.y
    else:
        X, y = data.make_shapes(400, seed=seed, size=SHAPE_SIZE)
    return X, y, data.split_indices(len(y), seed=0)


def _track(ctx, sub):
    """The notebook's ``TRACK`` -> (track, None) or (None, reason)."""
    if "track" not in ctx.cache:
        result = ctx.host.get("TRACK", timeout=ctx.timeout or sub.time_limit)
        track = result.value if result.ok else None
        ctx.cache["track"] = (track, None) if track in CAPSTONE_SPEC_KEYS else (
            None, result.error if not result.ok else
            f"TRACK should be 'churn' or 'vision', not {track!r}")
    return ctx.cache["track"]


def check_capstone_spec(ctx, sub):
    """``capstone_spec()``: the notebook's track and that track's roll-number keys."""
    if not ctx.roll_number:
        return False, "no roll number: the spec cannot be checked"
    fn = sub.functions[0]
    result = ctx.call(sub, fn)
    if not result.ok:
        return False, result.error
    spec = result.value
    if type(spec) is not dict:
        return False, f"{fn}() should return a dict"
    track, reason = _track(ctx, sub)
    if reason:
        return False, reason
    if spec.get("track") != track:
        return False, f"track is {spec.get('track')!r}, but the notebook's TRACK is {track!r}"
    wrong = spec_differences(spec, derive_config(ctx.roll_number), CAPSTONE_SPEC_KEYS[track])
    return not wrong, "; ".join(wrong) or f"the {track} spec of your roll number"


def _scores(result, track, n, fn):
    """(scores, None) if ``fit_predict`` returned finite scores of the track's shape."""
    if not result.ok:
        return None, result.error
    got = result.value
    if type(got) is not np.ndarray:
        return None, f"{fn}() should return a numpy array, got {type(got).__name__}"
    got = got.astype(np.float64)
    if track == "churn" and got.shape == (n, 1):
        got = got.reshape(n)
    shape = (n,) if track == "churn" else (n, NUM_SHAPES)
    if got.shape != shape:
        return None, f"{fn}() returned shape {got.shape}, expected {shape}"
    if not np.all(np.isfinite(got)) or got.min() < 0 or got.max() > 1:
        return None, f"{fn}() should return probabilities (finite, in [0, 1])"
    return got, None


def _fresh_capstone_data(ctx, track):
    """Data the student never saw: a new seed of the track's generator."""
    seed = int(ctx.rng.integers(2**31))
    if track == "churn":
        churn = data.make_churn(1800, seed=seed)
        cut = 800
        return (churn.X[:cut], churn.y[:cut], churn.X[cut:], churn.y[cut:],
                churn.churn_probability[cut:])
    X, y = data.make_shapes(600, seed=seed, size=SHAPE_SIZE)
    return X[:300], y[:300], X[300:], y[300:], None


def check_capstone_pipeline(ctx, sub):
    """``fit_predict`` on fresh data of the notebook's track.

    part "heldout": churn ROC-AUC at least the true churn probabilities' ROC-AUC minus
    ``auc_margin``; vision accuracy at least ``min_accuracy``. part "seeded": a second
    identical call returns the same scores. part "train_statistics": the scores of the
    first half of the test set are the same when only that half is passed (no scaling
    or other fitting on test data).
    """
    fn = sub.functions[0]
    track, reason = _track(ctx, sub)
    if reason:
        return False, reason
    if "capstone_data" not in ctx.cache:
        ctx.cache["capstone_data"] = _fresh_capstone_data(ctx, track)
    X_tr, y_tr, X_te, y_te, true_p = ctx.cache["capstone_data"]
    first, reason = _scores(ctx.call(sub, fn, X_tr, y_tr, X_te, key=(fn, "fresh")),
                            track, len(y_te), fn)
    if reason:
        return False, reason
    part, p = sub.params["part"], sub.params
    if part == "heldout":
        if track == "churn":
            auc, best = metrics.roc_auc(y_te, first), metrics.roc_auc(y_te, true_p)
            bar = best - p["auc_margin"]
            return auc >= bar, (f"held-out ROC-AUC {auc:.3f}; the true churn probabilities "
                                f"reach {best:.3f} (needs >= {bar:.3f})")
        acc = metrics.accuracy(y_te, first.argmax(axis=1))
        return acc >= p["min_accuracy"], (f"held-out accuracy {acc:.3f} "
                                          f"(needs >= {p['min_accuracy']})")
    if part == "seeded":
        again, reason = _scores(ctx.call(sub, fn, X_tr, y_tr, X_te), track, len(y_te), fn)
        if reason:
            return False, reason
        worst = float(np.max(np.abs(again - first)))
        return worst <= sub.tolerance, (f"the same call changed the scores by up to {worst:.3g}"
                                        if worst > sub.tolerance else
                                        "the same call gives the same scores")
    half = len(y_te) // 2
    part_scores, reason = _scores(ctx.call(sub, fn, X_tr, y_tr, X_te[:half]), track, half, fn)
    if reason:
        return False, reason
    worst = float(np.max(np.abs(part_scores - first[:half])))
    return worst <= sub.tolerance, (
        f"a test sample's score changes by up to {worst:.3g} when the other test samples "
        "change: fit scaling and everything else on the training data only"
        if worst > sub.tolerance else "test scores depend on the training data only")


def _reproduce_capstone(ctx, sub):
    """Module 08: refit on the roll's train + val split, score its test split."""
    record, reason = read_artifact(ctx)
    if reason:
        return False, reason
    tracks = [t for t, key in CAPSTONE_METRIC.items() if key in record["metrics"]]
    if len(tracks) != 1:
        return False, f"the artifact's metrics should hold one of {sorted(CAPSTONE_METRIC.values())}"
    track = tracks[0]
    X, y, (train, val, test) = capstone_data(ctx.roll_number, track)
    fit_idx = np.concatenate([train, val])
    fn = sub.functions[0]
    scores, reason = _scores(ctx.call(sub, fn, X[fit_idx], y[fit_idx], X[test]),
                             track, len(test), fn)
    if reason:
        return False, f"rerunning your pipeline on your split: {reason}"
    value = (metrics.roc_auc(y[test], scores) if track == "churn"
             else metrics.accuracy(y[test], scores.argmax(axis=1)))
    return _artifact_metrics(ctx, {CAPSTONE_METRIC[track]: float(value)},
                             f"the test metric your pipeline gives on your {track} split")


REPRODUCE = {"experimentation": _reproduce_experiments, "capstone": _reproduce_capstone}

CHECKS = {
    "harness": check_harness,
    "sweep": check_sweep,
    "ablation": check_ablation,
    "artifact": check_artifact,
    "capstone_spec": check_capstone_spec,
    "capstone_pipeline": check_capstone_pipeline,
}
