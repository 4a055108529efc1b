"""The labs' checks that compare answers: a rubric's "compare" (a student's function
against its reference), "gradcheck" (``mlp_backward`` against a numerical gradient) and
"roll_draws" (the roll number's seeded draws).

Everything here runs in the *parent* (the checker): it draws fresh inputs from
its own generator, calls the student's function in the child through
``StudentHost.call``, and compares the plain data that comes back with the
course library's reference (``references``), using the parent's own, untouched NumPy.

A check is ``check(ctx, sub) -> (passed, message)``; ``CHECKS`` maps the names
used in ``dlcourse.grading.rubrics`` to these functions (``registry.CHECKS`` joins
them with the checks of ``training``, ``frameworks`` and ``projects``).
"""

from __future__ import annotations

import numpy as np

from dlcourse import layers
from dlcourse.gradcheck import numerical_gradient, rel_error
from dlcourse.grading.comparison import mismatch, select_part
from dlcourse.grading.context import NoRollNumber
from dlcourse.grading.diagnosis import likely_mistake
from dlcourse.grading.inputs import INPUTS, ROLL_INPUTS
from dlcourse.grading.references import ROLL_REFERENCES, ref_mlp_forward, reference
from dlcourse.roll import derive_config


def check_compare(ctx, sub):
    """Call the student's function on fresh inputs; compare with the reference (for a
    roll-dependent answer, the reference of the roll number the service graded)."""
    p = sub.params
    key = (sub.functions[0], p["inputs"])  # sibling sub-checks share one call
    if key not in ctx.cache:
        try:
            ref = reference(ctx, p["reference"])
        except NoRollNumber as missing:
            return False, str(missing)
        args, kwargs = (ROLL_INPUTS[p["inputs"]](ctx.rng, ctx.config)
                        if p["inputs"] in ROLL_INPUTS else INPUTS[p["inputs"]](ctx.rng))
        want = ref(*args, **kwargs)
        ctx.cache[key] = (list(want) if isinstance(want, tuple) else want,
                          ctx.call(sub, sub.functions[0], *args, **kwargs), (args, kwargs))
    want, result, (args, kwargs) = ctx.cache[key]
    if not result.ok and p["reference"] in ROLL_REFERENCES:
        return False, f"{result.error} (called for your roll number's configuration)"
    if not result.ok:
        return False, result.error
    got = result.value
    if "select" in p:
        if select_part(got, p["select"]) is None:
            return False, f"{sub.functions[0]}() should return a tuple of {len(want)} values"
        got, want = select_part(got, p["select"]), select_part(want, p["select"])
    reason = mismatch(got, want, sub.tolerance, f"{sub.functions[0]}()")
    if reason is None:
        return True, "matches the reference"
    hint = likely_mistake(p["reference"], args, kwargs, got, want, sub.tolerance,
                          p.get("select"), config=ctx.config if ctx.roll_number else None)
    return False, f"{reason}; likely: {hint}" if hint else reason


def check_gradcheck(ctx, sub):
    """The student's ``mlp_backward`` against a centred-difference gradient of the
    reference loss, computed in the parent."""
    (X, y, params, acts), _ = INPUTS[sub.params["inputs"]](ctx.rng)
    result = ctx.call(sub, "mlp_backward", X, y, params, acts)
    if not result.ok:
        return False, result.error
    grads = result.value
    if type(grads) is not dict:
        return False, "mlp_backward() should return a dict of gradients keyed like params"
    work = {k: v.copy() for k, v in params.items()}

    def loss():
        return layers.binary_cross_entropy_forward(ref_mlp_forward(X, work, acts), y)[0]

    for name in sorted(work):
        got = grads.get(name)
        if type(got) is not np.ndarray or got.shape != work[name].shape:
            return False, f"gradient {name!r} missing or not an array of shape {work[name].shape}"
        numeric = numerical_gradient(loss, work[name])
        err = rel_error(got, numeric)
        if not err < sub.tolerance:
            return False, f"gradient {name!r}: relative error {err:.2e} (limit {sub.tolerance:g})"
    return True, "analytic and numerical gradients agree"


def check_roll_draws(ctx, sub):
    """``my_draws(n)``: the first n N(0, 1) draws of the roll number's ``seed``."""
    if not ctx.roll_number:
        return False, "no roll number: the seed cannot be checked"
    n = int(ctx.rng.integers(3, 9))
    want = np.random.default_rng(derive_config(ctx.roll_number)["seed"]).standard_normal(n)
    result = ctx.call(sub, sub.functions[0], n)
    if not result.ok:
        return False, result.error
    reason = mismatch(result.value, want, sub.tolerance, f"{sub.functions[0]}({n})")
    if reason:
        return False, (f"{reason}: expected the first {n} draws of "
                       "default_rng(CONFIG['seed']) of your roll number")
    return True, "the draws of your roll number's seed"


CHECKS = {
    "compare": check_compare,
    "gradcheck": check_gradcheck,
    "roll_draws": check_roll_draws,
}
