"""How long a hung notebook holds a grading worker in the real Docker sandbox.

Two notebooks that never finish a cell: a ``while True`` loop with SIGINT ignored, and a
fork bomb (every child forks again until the pid limit). Each is graded once with
:class:`~grader_service.runners.docker.DockerRunner` (the cell timeout and the sandbox's
wall-clock timeout as given) and the script prints the seconds from container create to
the outcome, the outcome and its message. The worker is held exactly that long.

    python benchmarks/hung_notebook.py                        # cell 10 s, sandbox 120 s
    python benchmarks/hung_notebook.py --cell-timeout 60 --timeout 300   # the defaults
"""

import argparse
import json
import os
import sys
import tempfile
import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from grader_service.runners import SandboxLimits
from grader_service.runners.docker import DockerRunner
from grader_service.tarsafe import merge_archives, pack_directory

HANGS = {
    "sigint-ignored loop": ("    import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                            "    while True:\n        pass\n"),
    "fork bomb": ("    import os\n    while True:\n        try:\n            os.fork()\n"
                  "        except OSError:\n            pass\n"),
}
#: (answer cell, test cell): the hang in the answer cell itself, or in a function the
#: test cell calls (the student's process runs it; the checker waits)
NOTEBOOKS = {}
for _name, _body in HANGS.items():
    NOTEBOOKS[f"{_name} in the answer cell"] = ("def hang():\n" + _body + "x = 1\nhang()\n",
                                                "assert x == 1")
    NOTEBOOKS[f"{_name} in a tested function"] = ("def hang():\n" + _body, "assert hang() == 1")


def _meta(grade_id, **flags):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False,
                         "solution": flags.get("solution", False),
                         "grade": flags.get("grade", False), "points": flags.get("points", 0)}}


def bundle(solution, test, root):
    """The sandbox input: the hung answer cell, then one test cell worth a point."""
    def notebook(with_tests):
        return new_notebook(cells=[
            new_code_cell(solution, metadata=_meta("answer", solution=True)),
            new_code_cell(test if with_tests else "# tests run when graded",
                          metadata=_meta("t", grade=True, points=1)),
        ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}})

    for part, nb in (("source", notebook(True)), ("submission", notebook(False))):
        os.makedirs(os.path.join(root, part))
        nbformat.write(nb, os.path.join(root, part, "hung.ipynb"))
    return merge_archives({"source": pack_directory(os.path.join(root, "source")),
                           "submission": pack_directory(os.path.join(root, "submission"))},
                          10**8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="dlcourse/sandbox:latest")
    parser.add_argument("--cell-timeout", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="sandbox wall clock, s")
    parser.add_argument("--only", choices=sorted(NOTEBOOKS), action="append")
    args = parser.parse_args(argv)
    limits = SandboxLimits(timeout=args.timeout, cell_timeout=args.cell_timeout)
    runner = DockerRunner(limits, image=args.image)
    print(f"cell timeout {args.cell_timeout:g} s, sandbox timeout {args.timeout:g} s "
          f"(this notebook's job timeout: {limits.startup:g} s + 2 cells x "
          f"{args.cell_timeout:g} s, at most {args.timeout:g} s)")
    rows = []
    for name, (solution, test) in NOTEBOOKS.items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as root:
            data = bundle(solution, test, root)
        started = time.monotonic()
        run = runner.run(data)
        held = time.monotonic() - started
        tests = [(t.get("id") or t.get("name"), t.get("points"), str(t.get("message", ""))[:90])
                 for t in (run.result or {}).get("tests") or []]
        rows.append({"notebook": name, "held_seconds": round(held, 1),
                     "outcome": run.outcome.value, "message": run.message[:200],
                     "tests": tests})
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
