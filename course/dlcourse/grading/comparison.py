"""Comparison of returned data, in the parent and strict about types: the student's
answer (plain data from the wire) against the reference's."""

from __future__ import annotations

import numpy as np


def mismatch(got, want, tol, path="result"):
    """None if ``got`` matches ``want`` within ``tol``, else a short reason."""
    if isinstance(want, dict):
        if type(got) is not dict:
            return f"{path} should be a dict, got {type(got).__name__}"
        missing = [k for k in want if k not in got]
        if missing:
            return f"{path} is missing keys {missing}"
        for k in want:
            reason = mismatch(got[k], want[k], tol, f"{path}[{k!r}]")
            if reason:
                return reason
        return None
    if isinstance(want, tuple | list):
        if type(got) is not list or len(got) != len(want):
            return f"{path} should be a tuple of {len(want)} values"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            reason = mismatch(g, w, tol, f"{path}[{i}]")
            if reason:
                return reason
        return None
    if isinstance(want, np.ndarray):
        if type(got) is not np.ndarray:
            return f"{path} should be a numpy array, got {type(got).__name__}"
        if got.shape != want.shape:
            return f"{path} has shape {got.shape}, expected {want.shape}"
        got = got.astype(np.float64)
        if not np.all(np.isfinite(got)):
            return f"{path} contains NaN or inf"
        if not np.allclose(got, want, rtol=tol, atol=tol):
            worst = float(np.max(np.abs(got - want)))
            return f"{path} differs from the reference (max abs error {worst:.3g})"
        return None
    if want is None or isinstance(want, str | bool):  # labels and flags: exactly equal
        if type(got) is not type(want) or got != want:
            return f"{path} = {got!r}, expected {want!r}"
        return None
    # a scalar: a Python number or a 0-d/size-1 array
    if type(got) is np.ndarray and got.size == 1:
        got = float(got.reshape(()))
    if type(got) not in (int, float):
        return f"{path} should be a number, got {type(got).__name__}"
    if not np.isfinite(got):
        return f"{path} is not finite ({got})"
    if abs(got - float(want)) > tol * (1.0 + abs(float(want))):
        return f"{path} = {got:.6g}, expected {float(want):.6g}"
    return None


def select_part(value, which):
    """The part ``which`` of a tuple answer (an index or a list of indices; None: all of
    it), or None when ``value`` has no such part."""
    if which is None:
        return value
    if isinstance(which, int):
        return value[which] if isinstance(value, list | tuple) and len(value) > which else None
    if not isinstance(value, list | tuple) or len(value) <= max(which):
        return None
    return [value[i] for i in which]


def spec_differences(spec, want, keys):
    """``key=value (your roll number gives ...)`` for every key where ``spec`` differs."""
    wrong = []
    for k in keys:
        got, expected = spec.get(k), want[k]
        same = (isinstance(got, int | float) and not isinstance(got, bool)
                and np.isclose(got, expected)) if isinstance(expected, float) else \
            (type(got) is type(expected) and got == expected)
        if not same:
            wrong.append(f"{k}={got!r} (your roll number gives {expected!r})")
    return wrong
