"""Grading time of one honest submission in the real Docker sandbox.

Builds the sandbox input the service would send for a course lab (the instructor's
source, the reference solution as the student's notebook, ``job.json`` with a roll
number), grades it N times with :class:`~grader_service.runners.docker.DockerRunner`
(one fresh container each, sequentially) and prints min/median/max seconds from
container create to parsed result, with the score.

``--baseline-image`` grades the same input with an image built from a commit before
the two-identity sandbox (the autograder ran as uid 1000 in the student's kernel;
start it with that commit's container options) and prints the ratio now/baseline.

``--double-execution`` also grades it the way rubric notebooks were graded before each
notebook was executed once: the whole notebook run cell by cell (the test-cell step,
which now skips rubric notebooks, forced on in the same image) and then the rubric's
own run; it prints the ratio single/double.

    python benchmarks/sandbox_grading.py                       # m03 MLP lab, 5 runs
    python benchmarks/sandbox_grading.py --assignment m02_mlp_scratch_1 --runs 9
    python benchmarks/sandbox_grading.py --baseline-image dlcourse/sandbox:before
    python benchmarks/sandbox_grading.py --double-execution
"""

import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "course", "nbgrader", "source")

from grader_service.runners import SandboxLimits  # noqa: E402
from grader_service.runners.docker import DockerRunner  # noqa: E402
from grader_service.sandbox_protocol import JOB_INFO  # noqa: E402
from grader_service.tarsafe import merge_archives, pack_directory  # noqa: E402


class BaselineRunner(DockerRunner):
    """The container options of the sandbox before the two identities (one uid, 1000)."""

    def container_options(self):
        options = super().container_options()
        options.update(user="1000:1000", command=["--workdir", "/tmp/grading",
                                                  *self.limits.autograde_args()],
                       environment={"HOME": "/home/grader"}, working_dir="/home/grader",
                       cap_add=None, security_opt=["no-new-privileges"],
                       tmpfs={"/tmp": "rw,nosuid,nodev,size=256m,uid=1000,gid=1000,mode=0700",
                              "/home/grader": "rw,nosuid,nodev,size=64m,uid=1000,gid=1000,"
                                              "mode=0700"})
        return options


#: The image's autograder with the test-cell step run for rubric notebooks too (as
#: before single execution): ``python -I -c`` in place of ``python -I -m``, same argv.
DOUBLE_EXECUTION = """
import runpy
from grader_service.autograde.steps import test_cells

single = test_cells.RunTestCells.__call__

def run_rubric_notebooks_too(self, job):
    rubric, job.rubric = job.rubric, None
    try:
        single(self, job)
    finally:
        job.rubric = rubric

test_cells.RunTestCells.__call__ = run_rubric_notebooks_too
runpy.run_module("grader_service.autograde", run_name="__main__", alter_sys=True)
"""


class DoubleExecutionRunner(DockerRunner):
    """The same sandbox, grading rubric notebooks by executing them twice."""

    def container_options(self):
        options = super().container_options()
        options["entrypoint"] = ["python", "-I", "-c", DOUBLE_EXECUTION]
        return options


def honest_bundle(assignment, roll_number):
    """The sandbox input for the reference solution of ``assignment``."""
    folder = os.path.join(SOURCE, assignment)
    info = {"course": "bench", "assignment": assignment, "roll_number": roll_number}
    return merge_archives({"source": pack_directory(folder), "submission": pack_directory(folder)},
                          10**9, files={JOB_INFO: json.dumps(info).encode()})


def measure(runners, bundle, runs):
    """Seconds per run of each runner (runs interleaved, so load shifts hit both alike)
    and each runner's last result."""
    seconds, results = [[] for _ in runners], [None for _ in runners]
    for _ in range(runs):
        for index, runner in enumerate(runners):
            started = time.monotonic()
            run = runner.run(bundle)
            seconds[index].append(time.monotonic() - started)
            if run.result is None:
                sys.exit(f"grading failed: {run.outcome.value} {run.message}")
            results[index] = run.result
    return seconds, results


def report(label, seconds, result):
    auto = sum(t["max_points"] for t in result["tests"] if not t["manual"])
    print(f"{label:<10} min {min(seconds):6.2f} s  median {statistics.median(seconds):6.2f} s  "
          f"max {max(seconds):6.2f} s  score {result['score']:g}/{auto:g} automatic")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="m03_mlp_scratch_2")
    parser.add_argument("--roll-number", default="CS2024-007")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default="dlcourse/sandbox:latest")
    parser.add_argument("--baseline-image", help="an image from before the two identities")
    parser.add_argument("--double-execution", action="store_true",
                        help="compare with executing rubric notebooks twice (as before)")
    args = parser.parse_args()
    limits = SandboxLimits(memory="2g", cpus=1.0, pids=512, timeout=600, cell_timeout=120)
    bundle = honest_bundle(args.assignment, args.roll_number)
    print(f"{args.assignment}: reference solution, {args.runs} runs, 1 CPU, 2 GiB")
    runners = [DockerRunner(limits, image=args.image)]
    if args.baseline_image:
        runners.append(BaselineRunner(limits, image=args.baseline_image))
    if args.double_execution:
        runners.append(DoubleExecutionRunner(limits, image=args.image))
    seconds, results = measure(runners, bundle, args.runs)
    report("now", seconds[0], results[0])
    if args.baseline_image:
        report("baseline", seconds[1], results[1])
        ratio = statistics.median(seconds[0]) / statistics.median(seconds[1])
        print(f"median now / baseline = {ratio:.2f} (the budget is 1.20)")
    if args.double_execution:
        report("twice", seconds[-1], results[-1])
        assert results[-1]["score"] == results[0]["score"], "the two ways must agree"
        ratio = statistics.median(seconds[0]) / statistics.median(seconds[-1])
        print(f"median executed once / executed twice = {ratio:.2f}")


if __name__ == "__main__":
    main()
