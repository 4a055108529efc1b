"""The likely mistake behind a wrong answer, named for the student.

A compare check that fails says *how* the answer differs from the reference
(``comparison.mismatch``); :func:`likely_mistake` adds *why*, as one short phrase:

1. **Known mistakes** of the function (``mistakes.KNOWN_MISTAKES``): the wrong answers a
   student typically writes, computed here in the parent from the same inputs
   (columns centred along the rows, a flipped kernel, a mean where the sum is
   needed...), and for an answer that depends on the roll number the answer of another
   roll number's variant (``mistakes.ROLL_MISTAKES``). The first one the student's answer
   equals is named.
2. **Shapes of error** that hold for any array or number: not finite (with the
   function's usual cause, :data:`NOT_FINITE`), a spatial size off (stride or
   padding), transposed, the opposite sign, a constant factor, the right values in
   the wrong cells.

Nothing here decides points: a hint is appended to a message that already failed.
"""

from __future__ import annotations

import numpy as np

from dlcourse.grading.comparison import mismatch, select_part
from dlcourse.grading.mistakes import KNOWN_MISTAKES, ROLL_MISTAKES

#: reference name -> the usual cause of a NaN or inf answer
NOT_FINITE = {
    "bce_loss": "clip the probabilities to [1e-7, 1 - 1e-7] before the log",
    "bce": "clip the probabilities to [1e-7, 1 - 1e-7] before the log",
    "softmax_ce": "subtract each row's largest logit before exp (a stable softmax)",
}


def _as_array(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _shape_hint(got, want):
    if got.ndim == want.ndim == 4 and got.shape[:2] == want.shape[:2]:
        return (f"the output is {got.shape[2]}x{got.shape[3]} per channel, not "
                f"{want.shape[2]}x{want.shape[3]}: check out = (H + 2*pad - k) // stride + 1 "
                "and the step of your window loop")
    if got.ndim == 2 and got.shape == want.shape[::-1]:
        return "the result is transposed (axes swapped)"
    return ""


def _value_hint(got, want):
    if not np.all(np.isfinite(got)):
        return ""
    scale = float(np.abs(want).max(initial=0.0))
    if scale == 0.0:
        return ""
    if np.allclose(got, -want, rtol=1e-6, atol=1e-9 * scale):
        return "it has the opposite sign"
    nonzero = np.abs(want) > 1e-9 * scale
    ratios = got[nonzero] / want[nonzero]
    if ratios.size and np.allclose(ratios, ratios.flat[0], rtol=1e-6) \
            and np.allclose(got[~nonzero], 0.0, atol=1e-9 * scale):
        return (f"it is {ratios.flat[0]:.4g} x the right answer: a constant factor (a mean "
                "where a sum is needed, or n - 1 where n is?)")
    if got.size > 1 and np.isclose(got.sum(), want.sum(), rtol=1e-6, atol=1e-9 * scale):
        got_values, want_values = np.sort(got[got != 0]), np.sort(want[want != 0])
        if got_values.shape == want_values.shape and np.allclose(got_values, want_values,
                                                                 rtol=1e-6):
            return ("the right values in the wrong cells (a gradient routed to another "
                    "position than the one that produced the output?)")
        if got_values.size != want_values.size:
            return ("the right total in the wrong cells (a gradient given to other or "
                    "fewer positions than the ones that produced the output?)")
    return ""


def likely_mistake(reference, args, kwargs, got, want, tol, select=None, config=None):
    """A phrase naming the likely mistake behind ``got`` (which did not match ``want``,
    the reference's answer on ``args``), or "" when none is recognised. ``select`` picks
    the compared part of a tuple answer, as the check does; ``config`` is the graded
    roll number's config (for answers that depend on it)."""
    known = KNOWN_MISTAKES.get(reference, ())
    if config is not None and reference in ROLL_MISTAKES:
        known = (*ROLL_MISTAKES[reference](config), *known)
    for phrase, wrong_answer in known:
        wrong = wrong_answer(*args, **kwargs)
        wrong = select_part(list(wrong) if isinstance(wrong, tuple) else wrong, select)
        if mismatch(got, wrong, tol) is None:
            return phrase
    got_array, want_array = _as_array(got), _as_array(want)
    if got_array is None or want_array is None or want_array.dtype == object:
        return ""
    if got_array.size and not np.all(np.isfinite(got_array)):
        return NOT_FINITE.get(reference, "")
    if got_array.shape != want_array.shape:
        return _shape_hint(got_array, want_array)
    return _value_hint(got_array, want_array)
