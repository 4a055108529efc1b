"""Module 07's experiment harness: ``run_experiment(config, learning_rate, epochs)`` on
configs the checker draws, against the untrained model exactly and a learning signal
when trained, on the notebook's own data split."""

from __future__ import annotations

import numpy as np

from dlcourse import data
from dlcourse.grading.comparison import mismatch
from dlcourse.roll import derive_config


def fresh_config(rng, **overrides):
    """A roll-number config of a random (made-up) roll number, with ``overrides``."""
    return {**derive_config(f"ZZ{int(rng.integers(10**9)):09d}"), **overrides}



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


def harness_record(result, fn="run_experiment"):
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


def learnable_config(ctx, attempt=0):
    """The checker's trainable config number ``attempt`` (drawn once per grading)."""
    configs = ctx.cache.setdefault("learnable_configs", [])
    while len(configs) <= attempt:
        depth = int(ctx.rng.integers(1, 3))
        configs.append(fresh_config(
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
        config = learnable_config(ctx, attempt)
        key = (fn, "learnable", LEARNING_RATE) if attempt == 0 else None
        rec, reason = harness_record(ctx.call(sub, fn, config, LEARNING_RATE, key=key), fn)
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
        config = fresh_config(ctx.rng)
        rec, reason = harness_record(ctx.call(sub, fn, config, 0.0, epochs=3), fn)
        if reason:
            return False, reason
        want = _untrained(config, split)
        reason = mismatch({k: rec[k] for k in want}, want, sub.tolerance,
                          f"{fn}(config, learning_rate=0)")
        return reason is None, reason or "learning rate 0 reports the untrained model"
    if part == "learns":
        return _learns(ctx, sub, fn, split)
    config = learnable_config(ctx)
    first, reason = harness_record(ctx.call(sub, fn, config, LEARNING_RATE,
                                     key=(fn, "learnable", LEARNING_RATE)), fn)
    if reason:
        return False, reason
    again, reason = harness_record(ctx.call(sub, fn, config, LEARNING_RATE), fn)
    if reason:
        return False, reason
    reason = mismatch(again, first, sub.tolerance, f"{fn}() called again")
    return reason is None, (f"the same call gave a different record: {reason}" if reason
                            else "the same call gives the same record")
