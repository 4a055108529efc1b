"""Inputs, runs and the honest companion of the hostile-submission corpus.

See ``test_hostile_submissions`` for the attacks; ``conftest`` holds the fixtures.
Everything here talks to the REAL sandbox: ``DockerRunner`` on the sandbox image,
one fresh container per run. Three pieces:

- **bundles**: sandbox inputs (uncompressed tar: ``source/``, ``submission/``,
  ``job.json``) for the two kinds of grading: ``addlab`` (a ps0-like assignment graded
  by its nbgrader test cells, no course rubric) and the course's rubric labs
  (``m02_mlp_scratch_1``, ``m01_foundations``) with the authoritative roll number in
  ``job.json``. Every source carries random canaries (in a hidden test, in a solution
  cell, in ``job.json``) that must never show up in a result;
- **runs**: :func:`run_attack` grades a bundle in a container labelled with the attack's
  name and checks that this container is gone afterwards;
- **the honest companion**: a background thread that grades honest submissions back to
  back (alternating both kinds) for the whole session, so that every attack runs while
  an honest submission is being graded on the same machine at the same moment. Each
  attack test asserts that a companion run overlapped it and that every companion run
  finished so far got full points.
"""

import base64
import copy
import io
import json
import re
import secrets
import sys
import tarfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader_service.outcomes import Outcome
from grader_service.runners import RunResult, SandboxLimits
from grader_service.runners.docker import DockerRunner
from grader_service.sandbox_protocol import JOB_INFO

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grader_service"))
from grader_testing import nbgrader_meta  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "course" / "nbgrader" / "source"
ROLL = "CS2024-007"
OTHER_ROLL = "CS2024-999"
LABEL = "dlcourse.security-attack"
#: Random per session: an attack can search for the markers, never guess the token.
TOKEN = secrets.token_hex(8)
CANARIES = {
    "hidden": f"CANARY-HIDDEN-{TOKEN}",
    "solution": f"CANARY-SOLUTION-{TOKEN}",
    "job": f"CANARY-JOB-{TOKEN}",
}
#: Text of the instructor's source that students must never get back in a result.
SECRET_TEXT = (*CANARIES.values(), "BEGIN HIDDEN", "BEGIN SOLUTION", "73331", "73314")

#: Limits for attacks: small, so that bombs and hangs end fast.
ATTACK_LIMITS = SandboxLimits(memory="512m", cpus=1.0, pids=128, timeout=60, cell_timeout=10)
#: Limits for the honest companion: generous, it must never fail for lack of time.
HONEST_LIMITS = SandboxLimits(memory="1g", cpus=1.0, pids=256, timeout=150, cell_timeout=60)


# ----------------------------------------------------------------------------------
# addlab: a ps0-like assignment graded by its test cells (no course rubric)
# ----------------------------------------------------------------------------------
ADDLAB = "sec_addlab"
ADDLAB_NOTEBOOK = "addlab.ipynb"
#: The instructor's locked cell. In test-cell grading it runs in the checker too (the
#: instructor's copy, with the job's ROLL_NUMBER): CONFIG and reference_add are the
#: checker's own; the student's process runs the same copy.
ADDLAB_SETUP = '''import os

import numpy as np
from dlcourse.roll import derive_config

ROLL_NUMBER = os.environ.get("ROLL_NUMBER")
CONFIG = derive_config(ROLL_NUMBER)


def reference_add(a, b):
    """The instructor's helper, used by a hidden test."""
    return a + b
'''
ADDLAB_SOLUTION = f'''def add(a, b):
    ### BEGIN SOLUTION
    # {CANARIES["solution"]}
    return a + b
    ### END SOLUTION


def my_seed():
    """The seed of your roll number's config."""
    ### BEGIN SOLUTION
    return CONFIG["seed"]
    ### END SOLUTION
'''
#: The honest answer (what a student who solved it submits).
ADDLAB_HONEST = '''def add(a, b):
    return a + b


def my_seed():
    return CONFIG["seed"]
'''
#: grade_id -> (points, source). Hidden arguments 73331/73314 are canaries too.
ADDLAB_TESTS = {
    "test_add": (2, f'''assert add(1, 2) == 3
### BEGIN HIDDEN TESTS
assert add(-17, 73331) == 73314, "{CANARIES["hidden"]}"
### END HIDDEN TESTS
'''),
    "test_add_more": (1, '''assert add(2, 2) == 4
### BEGIN HIDDEN TESTS
assert add(0.5, 0.25) == reference_add(0.5, 0.25)
### END HIDDEN TESTS
'''),
    "test_seed": (1, 'assert my_seed() == CONFIG["seed"]\n'),
}
ADDLAB_MAX = sum(points for points, _ in ADDLAB_TESTS.values())
#: Points of each test for an answer where add is right and my_seed is right.
ADDLAB_ADD_POINTS = ADDLAB_TESTS["test_add"][0] + ADDLAB_TESTS["test_add_more"][0]

#: The instructor's data file (non-notebook source files are handed to the student).
ADDLAB_DATA = b"1 2 3\n"

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                             "language": "python"}}


def addlab_source():
    cells = [new_markdown_cell("# Security lab\nImplement `add(a, b)` and `my_seed()`.",
                               metadata=nbgrader_meta("intro")),
             new_code_cell(ADDLAB_SETUP, metadata=nbgrader_meta("setup", grade=False)),
             new_code_cell(ADDLAB_SOLUTION, metadata=nbgrader_meta("answer", solution=True))]
    for gid, (points, code) in ADDLAB_TESTS.items():
        cells.append(new_code_cell(code, metadata=nbgrader_meta(gid, grade=True, points=points)))
    cells[1].metadata["nbgrader"]["locked"] = True
    return new_notebook(cells=cells, metadata=KERNELSPEC)


def addlab_notebook(*answer_cells, setup=ADDLAB_SETUP, tests=True):
    """The student's notebook: the locked setup cell, the answer cell(s) (the first is
    the nbgrader solution cell, the others plain cells) and the test placeholders as
    released (no hidden lines)."""
    cells = [new_code_cell(setup, metadata=nbgrader_meta("setup"))]
    for index, source in enumerate(answer_cells or ("",)):
        meta = nbgrader_meta("answer", solution=True) if index == 0 else {}
        cells.append(new_code_cell(source, metadata=meta))
    if tests:
        for gid, (points, code) in ADDLAB_TESTS.items():
            visible = code.split("### BEGIN HIDDEN TESTS")[0]
            cells.append(new_code_cell(visible, metadata=nbgrader_meta(gid, grade=True,
                                                                       points=points)))
    return new_notebook(cells=cells, metadata=KERNELSPEC)


# ----------------------------------------------------------------------------------
# the course's rubric labs
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lab:
    assignment: str
    notebook: str
    max_points: float  # automatic points of the notebook's rubric items

    @property
    def source_dir(self):
        return SOURCES / self.assignment

    def source(self):
        return nbformat.read(str(self.source_dir / self.notebook), as_version=4)


M02 = Lab("m02_mlp_scratch_1", "mlp_scratch_part1.ipynb", 7.0)
M01 = Lab("m01_foundations", "quickstart.ipynb", 10.0)


def solution_cells(nb):
    return [c for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def lab_notebook(lab, replace=None, keep=(), append=(), prepend=()):
    """A student's notebook for ``lab`` built from the source (the reference solution).

    replace: ``{function name: new source}``: the solution cell defining it gets the new
    source instead of that function's reference; ``keep``: names of the solution cells'
    functions to keep (every other solution cell is emptied to ``pass``; None keeps all);
    ``append``/``prepend``: extra cells after the last / before the first solution cell.
    """
    nb = copy.deepcopy(lab.source())
    for cell in solution_cells(nb):
        defined = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
        if keep is not None and not set(defined) & set(keep):
            cell.source = "pass"
        for name, code in (replace or {}).items():
            if name in defined:
                cell.source = _replace_function(cell.source, name, code)
    cells = solution_cells(nb)
    first, last = nb.cells.index(cells[0]), nb.cells.index(cells[-1])
    nb.cells[last + 1:last + 1] = [new_code_cell(s) for s in append]
    nb.cells[first:first] = [new_code_cell(s) for s in prepend]
    return release_like(nb)


def release_like(nb):
    """What a student holds: no hidden tests and no solution markers (the kept
    solutions are the student's own code now)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept, hidden = [], False
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker in ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
                hidden = marker.startswith("### BEGIN")
            elif not hidden and marker not in ("### BEGIN SOLUTION", "### END SOLUTION"):
                kept.append(line)
        cell.source = "\n".join(kept)
    return nb


def _replace_function(source, name, code):
    """``source`` with the top-level ``def name`` block replaced by ``code``."""
    lines, out, skipping = source.splitlines(), [], False
    for line in lines:
        if line.startswith(f"def {name}("):
            skipping = True
            out.append(code.rstrip("\n"))
            continue
        if skipping and line and not line[0].isspace():
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def with_canary(nb):
    """A copy of a source notebook with the solution canary in its first solution cell."""
    nb = copy.deepcopy(nb)
    cell = solution_cells(nb)[0]
    cell.source = f"# {CANARIES['solution']}\n" + cell.source
    return nb


# ----------------------------------------------------------------------------------
# sandbox inputs
# ----------------------------------------------------------------------------------
def _add(tar, name, payload, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(payload), mode, 0
    tar.addfile(info, io.BytesIO(payload))


def make_input(source, submission, job, extra_members=()):
    """Sandbox input: ``source``/``submission`` map relative paths to bytes (or
    notebooks), ``job`` is ``job.json``; ``extra_members`` are raw ``(TarInfo, bytes)``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, JOB_INFO, json.dumps(job).encode())
        for part, files in (("source", source), ("submission", submission)):
            for relpath, payload in files.items():
                if isinstance(payload, nbformat.NotebookNode):
                    payload = nbformat.writes(payload).encode()
                _add(tar, f"{part}/{relpath}", payload)
        for info, payload in extra_members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def job_info(assignment, roll=ROLL):
    return {"course": "sec101", "assignment": assignment, "roll_number": roll,
            "canary": CANARIES["job"]}


def addlab_input(notebooks, files=None, extra_members=()):
    """Input for ``{name: student notebook}`` (or one notebook, graded as addlab.ipynb):
    each name gets its own copy of the addlab source; ``files`` go into submission/."""
    if isinstance(notebooks, nbformat.NotebookNode):
        notebooks = {ADDLAB_NOTEBOOK: notebooks}
    source = {name: addlab_source() for name in notebooks}
    source["data.txt"] = ADDLAB_DATA
    return make_input(source, {**notebooks, **(files or {})}, job_info(ADDLAB), extra_members)


def lab_input(lab, notebooks, files=None, roll=ROLL):
    """Input for ``{name: student notebook}`` (or one notebook) of a rubric lab: the
    rubric applies to every notebook of the assignment whatever its name."""
    if isinstance(notebooks, nbformat.NotebookNode):
        notebooks = {lab.notebook: notebooks}
    canaried = with_canary(lab.source())
    source = {name: canaried for name in notebooks}
    for path in lab.source_dir.iterdir():
        if path.is_file() and path.suffix != ".ipynb":
            source[path.name] = path.read_bytes()
    return make_input(source, {**notebooks, **(files or {})}, job_info(lab.assignment, roll))


# ----------------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------------
class LabelledRunner(DockerRunner):
    """DockerRunner whose containers carry ``LABEL=<name>``, to find exactly ours."""

    def __init__(self, limits, image, name):
        super().__init__(limits, image=image)
        self.attack_name = name

    def container_options(self):
        options = super().container_options()
        options["labels"] = {**options["labels"], LABEL: self.attack_name}
        return options


def containers_labelled(name):
    import docker

    return docker.from_env().containers.list(all=True, filters={"label": f"{LABEL}={name}"})


@dataclass
class Graded:
    """One graded attack: the runner's result plus what the tests look at."""

    name: str
    run: object
    started: float
    finished: float

    @property
    def outcome(self):
        return self.run.outcome

    @property
    def result(self):
        return self.run.result or {}

    @property
    def score(self):
        return float(self.result.get("score", 0.0)) if self.outcome is Outcome.SUCCESS else 0.0

    @property
    def max_score(self):
        return float(self.result.get("max_score", 0.0))

    def view(self, notebook=None):
        """The part of the result about one notebook (the whole result when None)."""
        return NotebookView(self, notebook)

    def describe(self):
        tests = "; ".join(f"{t['grade_id']}={t['points']}/{t['max_points']} {t['message']!r}"
                          for t in self.result.get("tests", []))
        return (f"{self.name}: {self.outcome.value} {self.score}/{self.max_score} "
                f"message={self.run.message!r} problems="
                f"{[n.get('problem') for n in self.result.get('notebooks', {}).values()]} "
                f"tests: {tests}")


@dataclass
class NotebookView:
    """One notebook's score, tests and problem in a (possibly multi-notebook) result."""

    graded: Graded
    notebook: str | None

    def tests(self):
        return {t["grade_id"]: t for t in self.graded.result.get("tests", [])
                if self.notebook is None or t["notebook"] == self.notebook}

    @property
    def score(self):
        if self.graded.outcome is not Outcome.SUCCESS:
            return 0.0
        return float(sum(t["points"] for t in self.tests().values()))

    @property
    def max_score(self):
        return float(sum(t["max_points"] for t in self.tests().values()))

    @property
    def problem(self):
        notebooks = self.graded.result.get("notebooks", {})
        if self.notebook is None:
            return "; ".join(str(n.get("problem")) for n in notebooks.values()
                             if n.get("problem"))
        return (notebooks.get(self.notebook) or {}).get("problem") or ""

    def text(self):
        """What the student sees of this notebook: its tests, its problem, the run's
        message."""
        return json.dumps([self.tests(), self.problem], sort_keys=True) + "\n" + (
            self.graded.run.message or "")

    def probe(self):
        """The report an attack smuggled out in a message (``PROBE<base64>END``)."""
        found = re.search(r"PROBE([A-Za-z0-9+/=]+)END", self.text())
        if not found:
            return None
        return json.loads(zlib.decompress(base64.b64decode(found.group(1))))

    def describe(self):
        tests = "; ".join(f"{gid}={t['points']}/{t['max_points']} {t['message']!r}"
                          for gid, t in self.tests().items())
        return (f"{self.graded.name}/{self.notebook}: {self.graded.outcome.value} "
                f"{self.score}/{self.max_score} run message={self.graded.run.message!r} "
                f"problem={self.problem!r} tests: {tests}")


def run_bundle(image, name, bundle, limits=ATTACK_LIMITS):
    """Grade ``bundle`` in a sandbox started ahead of it, as the service's pool does
    (``DockerRunner`` with a warm pool): its checker has done its imports and waits for
    the input when the attack arrives. The result says ``sandbox["warm"]``."""
    runner = LabelledRunner(limits, image, name)
    runner.pool.size = 1
    runner.warm_up()
    deadline = time.monotonic() + 120
    while runner.pool.ready() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.pool.size = 0  # no replacement: this runner grades one input
    started = time.monotonic()
    try:
        run = runner.run(bundle)
    except Exception as err:  # noqa: BLE001 - the Runner contract: run() never raises
        run = RunResult(Outcome.INFRASTRUCTURE, None, {},
                        f"DockerRunner.run raised {type(err).__name__}: {err}")
    finally:
        runner.close()
    finished = time.monotonic()
    return Graded(name, run, started, finished)


# ----------------------------------------------------------------------------------
# the honest companion
# ----------------------------------------------------------------------------------
@dataclass
class HonestRun:
    kind: str
    graded: Graded
    expected: float
    overlapped: list = field(default_factory=list)  # names of attacks it overlapped

    @property
    def ok(self):
        g = self.graded
        return (g.outcome is Outcome.SUCCESS and g.score == self.expected
                and g.max_score == self.expected)


class HonestCompanion:
    """Grades honest submissions back to back in a thread while the attacks run."""

    def __init__(self, image):
        self.image = image
        self.bundles = [("addlab", addlab_input(addlab_notebook(ADDLAB_HONEST)), ADDLAB_MAX),
                        ("m02", lab_input(M02, lab_notebook(M02, keep=None)), M02.max_points)]
        self.runs: list[HonestRun] = []
        self.attacks: list[tuple[str, float, float]] = []
        self.current_start = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._loop, name="honest-companion", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _loop(self):
        count = 0
        try:
            while not self.stopping.is_set():
                kind, bundle, expected = self.bundles[count % len(self.bundles)]
                count += 1
                with self.lock:
                    self.current_start = time.monotonic()
                graded = run_bundle(self.image, f"honest-{count}-{kind}", bundle, HONEST_LIMITS)
                with self.lock:
                    self.current_start = None
                    run = HonestRun(kind, graded, expected)
                    run.overlapped = [name for name, s, f in self.attacks
                                      if s < graded.finished and f > graded.started]
                    self.runs.append(run)
        except Exception as err:  # noqa: BLE001 - reported by every later check
            self.error = err

    def record(self, graded):
        """Remember an attack's time window (for the overlap bookkeeping)."""
        with self.lock:
            self.attacks.append((graded.name, graded.started, graded.finished))
            for run in self.runs:  # a companion run that finished during the attack
                if run.graded.started < graded.finished and run.graded.finished > graded.started:
                    run.overlapped.append(graded.name)

    def overlapping(self, graded):
        """Did a companion run overlap the attack (finished or still running)?"""
        with self.lock:
            if self.current_start is not None and self.current_start < graded.finished:
                return True
            return any(r.graded.started < graded.finished and r.graded.finished > graded.started
                       for r in self.runs)

    def failures(self):
        with self.lock:
            return [f"honest {r.kind} run during {r.overlapped}: {r.graded.describe()}"
                    for r in self.runs if not r.ok]

    def stop(self, timeout=200):
        self.stopping.set()
        self.thread.join(timeout)
