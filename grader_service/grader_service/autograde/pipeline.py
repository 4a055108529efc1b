"""Grade an input directory: every source notebook through the steps, one JSON result.

Result shape::

    {"notebooks": {"ps0.ipynb": {"score", "max_score", "problem"}},
     "tests": [{"notebook", "grade_id", "points", "max_points", "passed", "message",
                "manual"}],
     "score": float, "max_score": float,
     "metrics": {"<notebook>": {"<name>": float}}}

The input directory belongs to the checker: the student's code never sees it. What
the student's process gets is :func:`student_files`: the submission's files with the
instructor's non-notebook files (data) on top, never a source notebook.
"""

import json
import os

from ..sandbox_protocol import JOB_INFO
from .job import NotebookJob
from .steps import DEFAULT_STEPS

#: Upper bound on the files handed to the student's process (the upload limit is lower).
MAX_STUDENT_FILES_BYTES = 256 * 1024 * 1024


def _walk(folder):
    """Relative paths of the regular files under ``folder`` (no links, no checkpoints)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != ".ipynb_checkpoints")
        found += [os.path.relpath(os.path.join(dirpath, f), folder) for f in sorted(filenames)
                  if os.path.isfile(os.path.join(dirpath, f))
                  and not os.path.islink(os.path.join(dirpath, f))]
    return found


def source_notebooks(source_dir):
    """Relative paths of the instructor's notebooks (skipping checkpoints), sorted."""
    return sorted(p for p in _walk(source_dir) if p.endswith(".ipynb"))


def student_files(input_dir):
    """``{relpath: bytes}``: submission files, then instructor data files on top (data
    cannot be faked); instructor notebooks (solutions, hidden tests) are never included."""
    files, total = {}, 0
    for part, keep in (("submission", lambda p: True),
                       ("source", lambda p: not p.endswith(".ipynb"))):
        folder = os.path.join(input_dir, part)
        for relpath in _walk(folder) if os.path.isdir(folder) else ():
            if keep(relpath):
                with open(os.path.join(folder, relpath), "rb") as fh:
                    data = files[relpath.replace(os.sep, "/")] = fh.read()
                total += len(data)
    if total > MAX_STUDENT_FILES_BYTES:
        raise ValueError(f"the submission's files exceed {MAX_STUDENT_FILES_BYTES} bytes")
    return files


def read_job_info(input_dir) -> dict:
    """``job.json`` from the grading service: assignment and authoritative roll number."""
    path = os.path.join(input_dir, JOB_INFO)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    return info if isinstance(info, dict) else {}


def grade_directory(input_dir, cell_timeout=60.0, identity=None, steps=DEFAULT_STEPS):
    """Run every step on every source notebook and return the result dict.

    identity: the ``ChildIdentity`` the student's code runs as (None: this uid, for
    development); the student's process works in a directory of its own.
    """
    info = read_job_info(input_dir)
    files = student_files(input_dir)
    pipeline = [step() for step in steps]
    jobs = []
    for name in source_notebooks(os.path.join(input_dir, "source")):
        job = NotebookJob(
            name=name,
            source_path=os.path.join(input_dir, "source", name),
            submission_path=os.path.join(input_dir, "submission", name),
            cell_timeout=cell_timeout, files=files, identity=identity,
            assignment=str(info.get("assignment") or ""), roll_number=info.get("roll_number"))
        for step in pipeline:
            if job.problem and step.needs_gradable:
                continue
            step(job)
        jobs.append(job)
    return {
        "notebooks": {job.name: job.to_json() for job in jobs},
        "tests": [test.to_json() for job in jobs for test in job.tests],
        "score": sum(job.score for job in jobs),
        "max_score": sum(job.max_score for job in jobs),
        "metrics": {job.name: job.metrics for job in jobs if job.metrics},
    }
