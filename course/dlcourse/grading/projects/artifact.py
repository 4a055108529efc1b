"""The artifact modules 07 and 08 write: ``submission_<roll>[_<notebook>].json``, read back
through the student's process (the checker never opens a path the notebook controls),
verified against the graded roll number, and compared with numbers the checker
reproduced."""

from __future__ import annotations

import json

from dlcourse.artifacts import artifact_filename, verify_submission
from dlcourse.roll import normalize_roll_number


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


def artifact_metrics(ctx, want, what):
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
