"""Module 08, the capstone: the roll number's spec, the pipeline on data the checker
keeps, and the artifact's test metric reproduced on the roll number's split."""

from __future__ import annotations

import numpy as np

from dlcourse import data, metrics
from dlcourse.grading.comparison import spec_differences
from dlcourse.grading.projects.artifact import artifact_metrics, read_artifact
from dlcourse.roll import derive_config

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


def reproduce_capstone(ctx, sub):
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
    return artifact_metrics(ctx, {CAPSTONE_METRIC[track]: float(value)},
                             f"the test metric your pipeline gives on your {track} split")

