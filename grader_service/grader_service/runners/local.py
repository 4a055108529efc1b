"""Run the autograder as a local subprocess: development and unit tests only (no isolation)."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time

from ..outcomes import Outcome
from .base import AUTOGRADE_MODULE, Runner, RunResult, parse_output, stop_when

# Only what a Python subprocess needs; never the service's tokens or keys.
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


class LocalRunner(Runner):
    """Subprocess with a wall-clock timeout and a stdout cap; no memory/network limits,
    and the student's code runs under the service's own uid (``--same-uid``)."""

    name = "local"

    def __init__(self, limits, python=sys.executable):
        super().__init__(limits)
        self.python = python

    def run(self, bundle, cancelled=None):
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="grader-local-") as home, \
                tempfile.TemporaryFile() as out:
            env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
            env["HOME"] = home
            proc = subprocess.Popen(
                [self.python, "-I", "-m", AUTOGRADE_MODULE, "--workdir", home, "--same-uid",
                 *self.limits.autograde_args()],
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL, cwd=home, env=env,
                start_new_session=True)
            try:
                with stop_when(cancelled, lambda: _kill_group(proc.pid)):
                    proc.communicate(bundle, timeout=self.limits.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return RunResult(Outcome.TIMEOUT, None, self.sandbox_info(),
                                 f"killed after {self.limits.timeout:g} s",
                                 time.monotonic() - start)
            finally:
                _kill_group(proc.pid)
            out.seek(0)
            stdout = out.read(self.limits.output_bytes + 1)
        truncated = len(stdout) > self.limits.output_bytes
        outcome, result, message = parse_output(stdout, proc.returncode, truncated)
        return RunResult(outcome, result, self.sandbox_info(network_mode="host", isolated=False),
                         message, time.monotonic() - start)


def _kill_group(pgid):
    """Kill leftovers (e.g. a kernel the student detached) of the process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
