"""Point-based autograding with process isolation.

``grade_notebook(path, assignment, roll_number)`` runs the code cells of a
student's notebook in a child process (``dlcourse.grading.host``), then walks
the assignment's rubric (``dlcourse.grading.rubrics``): every sub-check sends
fresh inputs to one of the student's functions, gets plain arrays back and
compares them in this process with the course library's reference. Nothing
the student's code does to NumPy, to test helpers or to ``__eq__`` reaches the
comparison. Each call has a time limit; a hung or crashed child costs that
sub-check its points and is restarted for the next one.

Returned dict::

    {"rubric": "mlp", "assignment": "m03_mlp_scratch_2",
     "items": [{"id", "description", "points", "max_points", "passed",
                "message", "manual", "subchecks": [...]}, ...],
     "score": automatic points earned,
     "max_score": all points of the graded items (automatic + manual),
     "manual_max_score": points left to the human grader,
     "setup": "ok" or why the notebook's cells could not run,
     "metrics": {name: number} the checker measured (held-out accuracy, loss, and
                 ``artifact_verified``: 1.0 when the notebook's integrity artifact
                 verifies for the graded roll number, where no rubric item grades it),
     "cell_errors": [...], "restarts": int}

The reference modules are imported here before the child starts, and the child
gets a working directory of its own and a minimal environment (no grader
secrets, ``ROLL_NUMBER`` from the caller, ``SUBMISSION_DIR`` = that directory, where
the artifact checks have the child read back the ``submission_<roll>[_<notebook>].json``
the notebook wrote). In the platform's sandbox (no network,
read-only root, resource limits) the child runs under the student's own uid.
"""

from __future__ import annotations

import dataclasses
import secrets

# The student host (``python -m dlcourse.grading.host``) imports this package
# first: keep it light, with nbformat and the checks imported where used.

__all__ = ["grade_notebook", "notebook_code_cells"]

#: Cells with this tag are demonstrations (plots, long runs): not run when grading.
SKIP_TAG = "skip-grading"


def notebook_code_cells(nb) -> list[str]:
    """Sources of the code cells a grader runs: all except nbgrader test cells
    (autograder asserts) and cells tagged ``skip-grading``."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            continue
        if SKIP_TAG in cell.metadata.get("tags", []):
            continue
        cells.append(cell.source)
    return cells


def _item_result(item, points, passed, message, subchecks=()):
    return {"id": item.id, "description": item.description, "points": points,
            "max_points": item.max_points, "passed": passed, "message": message,
            "manual": item.manual, "subchecks": list(subchecks)}


def grade_notebook(student_notebook_path, assignment: str, roll_number: str | None,
                   timeout_per_check: float | None = None, seed: int | None = None,
                   setup_timeout: float = 120.0, only_items=None, files=None,
                   identity=None) -> dict:
    """Grade one notebook against its assignment's rubric (see module docstring).

    timeout_per_check: seconds per student call; None uses each sub-check's own
    limit from the rubric. seed: the input generator's seed (default: random,
    so no two gradings send the same inputs). only_items: grade just these item ids
    (the others are left out of the result), for quick re-checks and tests.
    files: ``{relative path: bytes}`` the notebook's code may open (the submission's
    other files, the instructor's data). identity: run the student's code as this
    ``isolation.ChildIdentity`` (the grading sandbox's student uid).
    """
    from pathlib import Path

    import nbformat
    import numpy as np

    from dlcourse.grading.context import Context
    from dlcourse.grading.isolation import StudentHost
    from dlcourse.grading.projects.artifact import read_artifact
    from dlcourse.grading.registry import CHECKS
    from dlcourse.grading.rubrics import rubric_for

    rubric, items = rubric_for(assignment, Path(student_notebook_path).stem)
    if identity is not None and rubric.blocks_frameworks:
        # In the sandbox the frameworks are readable through a supplementary group:
        # a from-scratch lab runs the student's code without any.
        identity = dataclasses.replace(identity, groups=())
    if only_items is not None:
        items = tuple(i for i in items if i.id in set(only_items))
    nb = nbformat.read(str(student_notebook_path), as_version=4)
    env = {"ROLL_NUMBER": roll_number} if roll_number else {}
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    results = []
    with StudentHost(notebook_code_cells(nb), env=env, blocked=rubric.blocked_modules,
                     setup_timeout=setup_timeout, files=files, identity=identity) as host:
        started = host.start()
        ctx = Context(host=host, rng=rng, roll_number=roll_number, timeout=timeout_per_check)
        for item in items:
            if item.manual:
                results.append(_item_result(item, 0.0, None, "graded by hand"))
                continue
            subs = []
            for sub in item.subchecks:
                try:
                    passed, message = CHECKS[sub.check](ctx, sub)
                except Exception as exc:  # noqa: BLE001 - a checker fault must not stop grading
                    passed, message = False, f"checker error: {type(exc).__name__}: {exc}"
                subs.append({"id": sub.id, "description": sub.description,
                             "points": sub.points if passed else 0.0,
                             "max_points": sub.points, "passed": bool(passed),
                             "functions": list(sub.functions), "message": message})
            points = float(sum(s["points"] for s in subs))
            failed = [f"{s['id']}: {s['message']}" for s in subs if not s["passed"]]
            results.append(_item_result(item, points, not failed,
                                        "; ".join(failed) or "all checks passed", subs))
        if roll_number and not rubric.grades_artifact:
            record, _reason = read_artifact(ctx, Path(student_notebook_path).stem)
            ctx.metrics["artifact_verified"] = float(record is not None)
        cell_errors, restarts, measured = host.cell_errors, host.restarts, ctx.metrics
    auto = [r for r in results if not r["manual"]]
    return {
        "rubric": rubric.name,
        "assignment": assignment,
        "items": results,
        "score": float(sum(r["points"] for r in auto)),
        "max_score": float(sum(r["max_points"] for r in results)),
        "manual_max_score": float(sum(r["max_points"] for r in results if r["manual"])),
        "setup": "ok" if started.ok else started.error,
        "cell_errors": cell_errors,
        "restarts": restarts,
        "metrics": {k: v for k, v in measured.items() if np.isfinite(v)},
    }
