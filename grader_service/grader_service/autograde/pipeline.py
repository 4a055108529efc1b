"""Grade an input directory: every source notebook through the steps, one JSON result.

Result shape::

    {"notebooks": {"ps0.ipynb": {"score", "max_score", "problem"}},
     "tests": [{"notebook", "grade_id", "points", "max_points", "passed", "message",
                "manual"}],
     "score": float, "max_score": float}
"""

import json
import os
import shutil

from ..sandbox_protocol import JOB_INFO
from .job import NotebookJob
from .steps import DEFAULT_STEPS


def source_notebooks(source_dir):
    """Relative paths of the instructor's notebooks (skipping checkpoints), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(source_dir):
        dirnames[:] = sorted(d for d in dirnames if d != ".ipynb_checkpoints")
        found += [os.path.relpath(os.path.join(dirpath, f), source_dir)
                  for f in filenames if f.endswith(".ipynb")]
    return sorted(found)


def prepare_workdir(input_dir, workdir):
    """Student files first, then instructor non-notebook files on top (data can't be faked)."""
    submission = os.path.join(input_dir, "submission")
    if os.path.isdir(submission):
        shutil.copytree(submission, workdir, dirs_exist_ok=True)
    else:
        os.makedirs(workdir, exist_ok=True)
    source = os.path.join(input_dir, "source")
    shutil.copytree(source, workdir, dirs_exist_ok=True,
                    ignore=lambda _d, names: [n for n in names if n.endswith(".ipynb")])


def read_job_info(input_dir) -> dict:
    """``job.json`` from the grading service: assignment and authoritative roll number."""
    path = os.path.join(input_dir, JOB_INFO)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    return info if isinstance(info, dict) else {}


def grade_directory(input_dir, workdir, cell_timeout=60.0, kernel_name="python3",
                    steps=DEFAULT_STEPS):
    """Run every step on every source notebook and return the result dict."""
    info = read_job_info(input_dir)
    prepare_workdir(input_dir, workdir)
    pipeline = [step() for step in steps]
    jobs = []
    for name in source_notebooks(os.path.join(input_dir, "source")):
        job = NotebookJob(
            name=name,
            source_path=os.path.join(input_dir, "source", name),
            submission_path=os.path.join(input_dir, "submission", name),
            workdir=os.path.dirname(os.path.join(workdir, name)),
            cell_timeout=cell_timeout, kernel_name=kernel_name,
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
    }
