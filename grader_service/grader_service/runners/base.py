"""The :class:`Runner` contract and what every runner shares (limits, output parsing)."""

import contextlib
import dataclasses
import io
import json
import logging
import tarfile
import threading
import time

from ..outcomes import Outcome
from ..plugins import NamedPlugin, load_class

AUTOGRADE_MODULE = "grader_service.autograde"

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one grading job.

    ``timeout`` is the last resort: a job is killed after :meth:`job_timeout` seconds,
    which follows from the notebook's cells (``startup`` + one ``cell_timeout`` per code
    cell) and is at most ``timeout``. Inside the sandbox the checker already kills the
    student's process group with SIGKILL at each cell's timeout (a loop that ignores
    SIGINT, a fork bomb) and goes on with the next cell, so an honest notebook never
    comes near it; notebooks with a course rubric (their checks carry their own time
    limits) keep the whole ``timeout``.
    """

    memory: str = "1g"  # docker size string; swap limit is set to the same value
    cpus: float = 1.0
    pids: int = 256
    timeout: float = 300.0  # wall clock, seconds: the bound of job_timeout()
    cell_timeout: float = 60.0  # per notebook cell, seconds
    output_bytes: int = 1024 * 1024  # stdout cap
    startup: float = 30.0  # seconds for the container, the imports and the result

    def job_timeout(self, bundle: bytes) -> float:
        """The wall-clock limit for this sandbox input: ``startup`` + ``cell_timeout`` for
        each code cell of the notebooks to grade (the larger count of the instructor's
        and the student's copy of each), at most ``timeout``; ``timeout`` itself for a
        notebook with a course rubric or an input that cannot be read here."""
        try:
            cells = _code_cells(bundle)
        except Exception:  # noqa: BLE001 - the sandbox reports what is wrong with it
            log.warning("sandbox input not readable for its time limit", exc_info=True)
            return self.timeout
        if cells is None:
            return self.timeout
        return min(self.timeout, self.startup + cells * self.cell_timeout)

    @classmethod
    def from_config(cls, config):
        return cls(memory=config["SANDBOX_MEMORY"], cpus=config["SANDBOX_CPUS"],
                   pids=config["SANDBOX_PIDS"], timeout=config["SANDBOX_TIMEOUT"],
                   cell_timeout=config["SANDBOX_CELL_TIMEOUT"],
                   output_bytes=config["SANDBOX_OUTPUT_BYTES"])

    def autograde_args(self):
        return ["--cell-timeout", str(self.cell_timeout)]


def _code_cells(bundle):
    """Code cells the autograder may run for ``bundle``, or None if a notebook has a
    course rubric (or the course package is missing)."""
    from ..result_check import require_course_package
    from ..sandbox_protocol import JOB_INFO

    counts, assignment = {}, None
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if member.name.lstrip("./") == JOB_INFO:
                assignment = json.load(tar.extractfile(member)).get("assignment")
                continue
            part, _, name = member.name.lstrip("./").partition("/")
            if (part not in ("source", "submission") or not name.endswith(".ipynb")
                    or ".ipynb_checkpoints" in name.split("/")):
                continue
            notebook = json.load(tar.extractfile(member))
            cells = sum(1 for c in notebook.get("cells", []) if c.get("cell_type") == "code")
            key = name
            counts[key] = max(counts.get(key, 0), cells)
    notebook_rubric = require_course_package()
    if any(notebook_rubric(assignment, n) is not None for n in counts):
        return None
    return sum(counts.values())


class SandboxTimeout(Exception):
    """The job's deadline passed while the runner waited on its sandbox."""


def remaining(deadline: float) -> float:
    """Seconds until ``deadline`` (``time.monotonic()``); SandboxTimeout once it passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise SandboxTimeout()
    return left


@dataclasses.dataclass
class RunResult:
    """What a runner reports: the outcome, the parsed result (success only), sandbox facts."""

    outcome: Outcome
    result: dict | None
    sandbox: dict
    message: str = ""
    duration: float = 0.0


class Runner(NamedPlugin, kind=True):
    """Run the autograder on one input bundle in isolation.

    Contract: ``run(bundle, cancelled=None)`` takes an uncompressed tar with ``source/``
    and ``submission/``, runs ``python -m grader_service.autograde`` on it (tar on stdin),
    enforces ``self.limits`` and returns a :class:`RunResult`; if ``cancelled`` (a
    ``threading.Event``) is set meanwhile it stops the sandbox early (see
    :func:`stop_when`; the result is then discarded anyway). It never raises for
    anything the student's code does (timeouts, crashes, garbage output are outcomes)
    and always cleans up after itself. Subclasses set ``name`` (the ``GRADER_RUNNER``
    value) and may be called from several worker threads at once.
    """

    def __init__(self, limits: SandboxLimits):
        self.limits = limits

    @classmethod
    def from_config(cls, config):
        """Build the runner from the app config (override to read your own keys)."""
        return cls(SandboxLimits.from_config(config))

    def sweep(self) -> int:
        """Remove sandboxes left behind by a grading process that died mid-job (called on
        worker start and every ``GRADER_SWEEP_SECONDS``); return how many. Runners whose
        sandboxes cannot outlive them need not override this."""
        return 0

    def warm_up(self):
        """Get ready for jobs ahead of them (a pool of started sandboxes); called once by
        the grading process before its workers start. Runners without one need not
        override this."""

    def close(self):
        """Release what :meth:`warm_up` holds; called when the workers stop."""

    def run(self, bundle: bytes, cancelled=None) -> RunResult:
        raise NotImplementedError("Override in subclass: run(bundle, cancelled) -> RunResult")

    def sandbox_info(self, **facts):
        """The ``sandbox`` section of a result: runner name, limits, plus ``facts``."""
        info = {"runner": self.name, "limits": dataclasses.asdict(self.limits)}
        info.update(facts)
        return info


def parse_output(stdout: bytes, exit_code, truncated=False):
    """Turn the autograder's stdout into ``(outcome, result, message)``; JSON only."""
    if truncated:
        return Outcome.ERROR, None, "sandbox output exceeded the limit"
    try:
        result = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Outcome.ERROR, None, f"sandbox did not print one JSON object (exit code {exit_code})"
    if not isinstance(result, dict) or "error" in result or exit_code != 0:
        detail = result.get("error") if isinstance(result, dict) else None
        return Outcome.ERROR, None, f"autograder failed (exit code {exit_code}): {detail}"
    for key in ("tests", "score", "max_score"):
        if key not in result:
            return Outcome.ERROR, None, f"sandbox result lacks {key!r}"
    return Outcome.SUCCESS, result, ""


BUILTIN_RUNNERS = {
    "local": "grader_service.runners.local:LocalRunner",
    "docker": "grader_service.runners.docker:DockerRunner",
    "kubernetes": "grader_service.runners.kubernetes:KubernetesJobRunner",
}


def make_runner(name, config):
    """Instantiate the runner registered as ``name``."""
    return load_class("dlcourse_grader.runners", name, BUILTIN_RUNNERS).from_config(config)


@contextlib.contextmanager
def stop_when(cancelled, stop, poll_seconds=0.5):
    """While the block runs, call ``stop()`` (once) as soon as ``cancelled`` is set."""
    if cancelled is None:
        yield
        return
    finished = threading.Event()

    def watch():
        while not finished.is_set():
            if cancelled.wait(poll_seconds):
                if not finished.is_set():
                    stop()
                return

    threading.Thread(target=watch, name="sandbox-cancel", daemon=True).start()
    try:
        yield
    finally:
        finished.set()


@dataclasses.dataclass
class SandboxOutput:
    """What a sandbox left when it ended: its stdout (capped), exit code, whether the cap
    was hit, or why it ended without an answer to read (``problem``: an error outcome)."""

    stdout: bytes = b""
    exit_code: int | None = None
    truncated: bool = False
    problem: str = ""


class SandboxRunner(Runner, kind=True):
    """A runner whose sandbox is a container: :meth:`run` is the same few steps for every
    backend, and each backend fills them in (as DockerSpawner's ``*_object`` methods do):

    1. :meth:`start_sandbox`: a sandbox created and started, waiting for its input;
    2. :meth:`wait_until_running` (a cluster may need to schedule it first);
    3. :meth:`feed` the input, then :meth:`collect` what it left, both by the job's
       deadline (``limits.job_timeout`` from the moment it runs; :class:`SandboxTimeout`
       past it);
    4. :meth:`facts`: the result's ``sandbox`` section (limits as applied, OOM kill);
    5. :meth:`remove` it, whatever happened; :meth:`stop` kills it early (cancelled,
       timed out).
    """

    def start_sandbox(self):
        raise NotImplementedError

    def wait_until_running(self, sandbox, began: float):
        """Return once the sandbox runs (``began``: when the job started)."""

    def feed(self, sandbox, bundle: bytes, deadline: float):
        raise NotImplementedError

    def collect(self, sandbox, deadline: float) -> SandboxOutput:
        raise NotImplementedError

    def stop(self, sandbox):
        raise NotImplementedError

    def facts(self, sandbox) -> dict:
        raise NotImplementedError

    def remove(self, sandbox):
        raise NotImplementedError

    def run(self, bundle, cancelled=None):
        began = time.monotonic()
        sandbox = self.start_sandbox()
        try:
            with stop_when(cancelled, lambda: self.stop(sandbox)):
                return self._grade(sandbox, bundle, began)
        finally:
            self.remove(sandbox)

    def _grade(self, sandbox, bundle, began):
        self.wait_until_running(sandbox, began)
        timeout = self.limits.job_timeout(bundle)
        deadline = time.monotonic() + timeout
        try:
            self.feed(sandbox, bundle, deadline)
            output = self.collect(sandbox, deadline)
        except SandboxTimeout:
            self.stop(sandbox)  # it may have exited right at the deadline
            return RunResult(Outcome.TIMEOUT, None, self.facts(sandbox),
                             self.timeout_message(timeout), time.monotonic() - began)
        info = self.facts(sandbox)
        if output.problem:
            return RunResult(Outcome.ERROR, None, info, output.problem,
                             time.monotonic() - began)
        outcome, result, message = parse_output(output.stdout, output.exit_code,
                                                output.truncated)
        if info.get("oom_killed") and outcome is not Outcome.SUCCESS:
            outcome, message = Outcome.OOM, f"killed by the {self.limits.memory} memory limit"
        return RunResult(outcome, result, info, message, time.monotonic() - began)

    def timeout_message(self, timeout: float) -> str:
        limits = self.limits
        return (f"killed after {timeout:g} s (the sandbox's limit for this notebook: "
                f"{limits.startup:g} s + {limits.cell_timeout:g} s per code cell, at most "
                f"{limits.timeout:g} s)")
