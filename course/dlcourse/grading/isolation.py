"""The checker's side of process isolation: ``StudentHost`` drives a child process.

The child (``dlcourse.grading.host``) runs the student's code cells; the parent
sends a function name and inputs, waits at most ``timeout`` seconds, and gets
plain data back (validated by ``wire.decode``). A child that hangs is killed,
one that crashes is noticed; either way the call fails with a message and the
next call starts a fresh child and replays the notebook's cells.

The child's working directory is a fresh scratch directory, also exported as
``SUBMISSION_DIR``: artifacts the notebook writes there (``submission_<roll>.json``)
are read back with ``StudentHost.read_output``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

from dlcourse.grading.wire import WireError, decode, encode

#: Environment variables the child inherits from the checker (everything else is dropped).
INHERITED_ENV = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH",
                           "VIRTUAL_ENV", "KERAS_HOME", "MPLCONFIGDIR"})


@dataclass
class CallResult:
    """Outcome of one call: ``ok`` and ``value``, or ``ok=False`` and ``error``."""

    ok: bool
    value: object = None
    error: str = ""


class StudentHost:
    """A restartable child process holding one student's notebook namespace.

    cells: code cell sources, run in order at start (and again after a restart).
    env: extra environment (ROLL_NUMBER, thread limits) for the child.
    blocked: module names the student's code may not import.
    setup_timeout: seconds allowed for running all the cells.
    """

    def __init__(self, cells, env=None, blocked=(), setup_timeout=120.0):
        self.cells = list(cells)
        self.env = dict(env or {})
        self.blocked = list(blocked)
        self.setup_timeout = setup_timeout
        self.cell_errors: list[str] = []
        self.restarts = 0
        self._started = False
        self._setup_failure: CallResult | None = None
        self._proc = None
        self._lines: queue.Queue | None = None
        self._stderr = None
        self._workdir = None

    # -- lifecycle -------------------------------------------------------------
    def _spawn(self):
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        self._workdir = tempfile.TemporaryDirectory(prefix="student-")  # its own scratch cwd
        # only what Python needs: no tokens or other secrets of the grader reach the student
        env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV}
        env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                    "PYTHONDONTWRITEBYTECODE": "1"})
        env.update(self.env)
        env["SUBMISSION_DIR"] = self._workdir.name  # where read_output looks
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dlcourse.grading.host"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, text=True, bufsize=1, cwd=self._workdir.name,
        )
        lines: queue.Queue = queue.Queue()
        proc = self._proc

        def pump():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)  # EOF: the child died

        threading.Thread(target=pump, daemon=True).start()
        self._lines = lines

    def start(self):
        """Start the child and run the notebook's cells; returns the setup result."""
        self.restarts += self._started
        self._started = True
        self._spawn()
        result = self._request({"op": "setup", "cells": self.cells, "blocked": self.blocked},
                               self.setup_timeout, "running the notebook's code cells")
        if result.ok:
            self.cell_errors = list(result.value.get("cell_errors", []))
        else:  # the notebook itself hangs or kills its process: do not try again
            self._setup_failure = result
        return result

    def _stderr_tail(self, limit=300):
        """The end of what the student's process printed (for crash messages)."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError, AttributeError):
            return ""

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def close(self):
        """Kill the child (idempotent)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests --------------------------------------------------------------
    def _request(self, message, timeout, what):
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            return CallResult(False, error=f"{what}: the notebook's process had exited")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            return CallResult(False, error=f"{what}: no answer within {timeout:g} s (time limit)")
        if line is None:
            code = self._proc.wait()
            tail = self._stderr_tail()
            self.close()
            return CallResult(False, error=f"{what}: the notebook's process crashed (exit {code})"
                              + (f"; its last output: {tail}" if tail else ""))
        try:
            reply = json.loads(line)
            if not reply.get("ok"):
                return CallResult(False, error=f"{what}: {reply.get('error', 'failed')}")
            if message["op"] == "setup":
                return CallResult(True, {"cell_errors": [str(e) for e in reply["cell_errors"]]})
            return CallResult(True, decode(reply.get("result")))
        except (WireError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return CallResult(False, error=f"{what}: invalid answer ({exc})")

    def _ensure(self):
        if self._setup_failure is not None:
            return self._setup_failure
        if self.alive():
            return None
        started = self.start()
        return None if started.ok else started

    def call(self, fn, *args, timeout=10.0, **kwargs):
        """Call the student's ``fn(*args, **kwargs)`` in the child -> ``CallResult``."""
        failed = self._ensure()
        if failed is not None:
            return failed
        message = {"op": "call", "fn": fn, "args": encode(list(args)), "kwargs": encode(kwargs)}
        return self._request(message, timeout, f"{fn}()")

    def read_output(self, name, limit=1 << 20):
        """The text of a file the notebook wrote to ``SUBMISSION_DIR`` -> ``CallResult``.

        name: a plain file name (no directories). Only a regular file of at most
        ``limit`` bytes is read; symbolic links, FIFOs and the like are refused, so the
        notebook cannot point the checker at another file or make it block.
        """
        failed = self._ensure()
        if failed is not None:
            return failed
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            return CallResult(False, error=f"{name!r} is not a plain file name")
        try:
            fd = os.open(os.path.join(self._workdir.name, name),
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return CallResult(False, error=f"the notebook did not write {name}")
        except OSError as exc:
            return CallResult(False, error=f"{name} cannot be read ({exc.strerror})")
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return CallResult(False, error=f"{name} is not a regular file")
            raw = fh.read(limit + 1)
        if len(raw) > limit:
            return CallResult(False, error=f"{name} is larger than {limit} bytes")
        return CallResult(True, raw.decode("utf-8", "replace"))

    def get(self, name, timeout=10.0):
        """Read the variable ``name`` from the child's namespace -> ``CallResult``."""
        failed = self._ensure()
        if failed is not None:
            return failed
        return self._request({"op": "get", "name": name}, timeout, f"variable {name}")
