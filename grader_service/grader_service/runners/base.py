"""The :class:`Runner` contract and what every runner shares (limits, output parsing)."""

import contextlib
import dataclasses
import json
import threading

from ..metrics import Outcome
from ..plugins import load_class

AUTOGRADE_MODULE = "grader_service.autograde"


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one grading job."""

    memory: str = "1g"  # docker size string; swap limit is set to the same value
    cpus: float = 1.0
    pids: int = 256
    timeout: float = 300.0  # wall clock, seconds
    cell_timeout: float = 60.0  # per notebook cell, seconds
    output_bytes: int = 1024 * 1024  # stdout cap

    @classmethod
    def from_config(cls, config):
        return cls(memory=config["SANDBOX_MEMORY"], cpus=config["SANDBOX_CPUS"],
                   pids=config["SANDBOX_PIDS"], timeout=config["SANDBOX_TIMEOUT"],
                   cell_timeout=config["SANDBOX_CELL_TIMEOUT"],
                   output_bytes=config["SANDBOX_OUTPUT_BYTES"])

    def autograde_args(self):
        return ["--cell-timeout", str(self.cell_timeout)]


@dataclasses.dataclass
class RunResult:
    """What a runner reports: the outcome, the parsed result (success only), sandbox facts."""

    outcome: Outcome
    result: dict | None
    sandbox: dict
    message: str = ""
    duration: float = 0.0


class Runner:
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

    name = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.name:
            raise TypeError(f"{cls.__name__} must set a non-empty class attribute 'name'")

    def __init__(self, limits: SandboxLimits):
        self.limits = limits

    @classmethod
    def from_config(cls, config):
        """Build the runner from the app config (override to read your own keys)."""
        return cls(SandboxLimits.from_config(config))

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
