"""A hung notebook releases the worker at the cell timeout, not the sandbox timeout.

The checker kills the student's process group (SIGKILL) when a cell or a tested call
overruns its cell timeout and goes on with the next cell; the runner's wall clock
follows from the notebook's cells (``SandboxLimits.job_timeout``) and is the last
resort. ``benchmarks/hung_notebook.py`` prints the seconds a worker is held.
"""

import json
import time

import pytest

from grader_service.outcomes import Outcome
from grader_service.runners import SandboxLimits
from grader_service.runners.docker import DockerRunner
from grader_service.tarsafe import merge_archives, pack_directory

LOOP = ("def hang():\n    import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "    while True:\n        pass\n")
FORK_BOMB = ("def hang():\n    import os\n    while True:\n        try:\n            os.fork()\n"
             "        except OSError:\n            pass\n")


def test_job_timeout_follows_the_cells(make_bundle):
    limits = SandboxLimits(timeout=300, cell_timeout=60, startup=30)
    two_cells = make_bundle("x = 1", {"t": (1, "assert x == 1")}, name="two")
    assert limits.job_timeout(two_cells) == 30 + 2 * 60
    many = make_bundle("x = 1", {f"t{i}": (1, "assert x == 1") for i in range(9)}, name="many")
    assert limits.job_timeout(many) == 300  # bounded by the sandbox timeout
    assert limits.job_timeout(b"not a tar") == 300  # unreadable: the sandbox says why


def test_a_rubric_lab_keeps_the_whole_timeout(tmp_path):
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "mlp_scratch_part2.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": []}],
         "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    bundle = merge_archives({"source": pack_directory(str(folder)),
                             "submission": pack_directory(str(folder))}, 10**8,
                            files={"job.json": json.dumps(
                                {"assignment": "m03_mlp_scratch_2"}).encode()})
    assert SandboxLimits(timeout=300, cell_timeout=60).job_timeout(bundle) == 300


@pytest.mark.parametrize("hang", [LOOP, FORK_BOMB], ids=["sigint-ignored-loop", "fork-bomb"])
def test_hung_call_is_killed_at_the_cell_timeout(sandbox_image, make_bundle, hang):
    runner = DockerRunner(SandboxLimits(timeout=120, cell_timeout=5), image=sandbox_image)
    bundle = make_bundle(hang, {"hung": (1, "assert hang() == 1"), "after": (1, "assert 1")},
                         name="hung")
    started = time.monotonic()
    run = runner.run(bundle)
    held = time.monotonic() - started
    assert run.outcome is Outcome.SUCCESS, run.message
    tests = {t["grade_id"]: t for t in run.result["tests"]}
    assert not tests["hung"]["passed"] and "time limit" in tests["hung"]["message"]
    assert tests["after"]["passed"]  # grading went on with the next cell
    assert held < 5 + 20, held  # the cell timeout plus start-up, not the 120 s sandbox limit


def test_runner_kills_at_the_job_timeout(sandbox_image, make_bundle):
    # 0 s start-up + 2 cells x 0.05 s: Docker cannot even start the container in time (a
    # whole honest run of this bundle took 0.57 s on CI's machine, so 0.6 s was a coin toss)
    runner = DockerRunner(SandboxLimits(timeout=120, cell_timeout=0.05, startup=0),
                          image=sandbox_image)
    started = time.monotonic()
    run = runner.run(make_bundle("x = 1", {"t": (1, "pass")}, name="short"))
    assert run.outcome is Outcome.TIMEOUT, run
    assert "killed after 0.1 s" in run.message and "per code cell" in run.message
    assert time.monotonic() - started < 30
