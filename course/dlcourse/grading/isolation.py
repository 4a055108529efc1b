"""The checker's side of process isolation: ``StudentHost`` drives a child process.

The child (``dlcourse.grading.host``) runs the student's code cells; the parent
sends a function name and inputs, waits at most ``timeout`` seconds, and gets
plain data back (validated by ``wire.decode``). A child that hangs is killed,
one that crashes is noticed; either way the call fails with a message and the
next call starts a fresh child and replays the notebook's cells.

In the grading sandbox the child runs under the student's own uid
(``identity``): it cannot signal, trace or read the checker, and the checker never
opens a file the child wrote (``read_output`` asks the child for the text). The
child works in a directory of its own under its home, also exported as
``SUBMISSION_DIR``, where the notebook's files (``files``) are put and its
artifacts (``submission_<roll>.json``) are read back from. How the child is started
and its answers read (sizes refused before parsing) is in ``dlcourse.grading.child``.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import itertools
import json
import os
import queue
import signal
import tempfile
import time
from dataclasses import dataclass

from dlcourse.grading.child import (
    MAX_CONTAINERS,
    MAX_REPLY_CHARS,
    STDERR_TAIL_CHUNKS,
    TOO_LONG,
    TOO_NESTED,
    ChildIdentity,
    child_environment,
    exit_reason,
    read_replies,
    spawn_child,
)
from dlcourse.grading.wire import Ref, WireError, decode, encode_call_arg

__all__ = ["CallResult", "ChildIdentity", "Ref", "StudentHost"]


@dataclass
class CallResult:
    """Outcome of one call: ``ok`` and ``value``, or ``ok=False`` and ``error``.

    ``raised`` is true when the child answered with an error of its own (the student's
    code raised): then ``error`` holds text the student's code chose.
    """

    ok: bool
    value: object = None
    error: str = ""
    raised: bool = False


class StudentHost:
    """A restartable child process holding one student's notebook namespace.

    cells: code cell sources, run in order at start (and again after a restart).
    env: extra environment (ROLL_NUMBER, thread limits) for the child.
    blocked: module names the student's code may not import.
    setup_timeout: seconds allowed for running all the cells.
    files: ``{relative path: bytes}`` put in the child's working directory first.
    identity: a :class:`ChildIdentity` to run the child as (None: this process's uid).
    """

    def __init__(self, cells, env=None, blocked=(), setup_timeout=120.0, files=None,
                 identity: ChildIdentity | None = None):
        self.cells = list(cells)
        self.env = dict(env or {})
        self.blocked = list(blocked)
        self.setup_timeout = setup_timeout
        self.files = dict(files or {})
        self.identity = identity
        self.cell_errors: list[str] = []
        self.restarts = 0
        self._started = False
        self._setup_failure: CallResult | None = None
        self._proc = None
        self._lines: queue.Queue | None = None
        self._stderr = None
        self._home = None
        self._ids = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------
    def _spawn(self):
        self._stderr = collections.deque(maxlen=STDERR_TAIL_CHUNKS)
        if self.identity is None:  # development: a scratch home of our own
            self._home = tempfile.TemporaryDirectory(prefix="student-")
            home, options = self._home.name, {}
        else:
            home, options = self.identity.home, self.identity.popen_kwargs()
        self._proc = spawn_child(child_environment(home, self.env), options)
        self._lines = read_replies(self._proc, self._stderr)

    def start(self):
        """Start the child, hand it the files and run the notebook's cells."""
        self.restarts += self._started
        self._started = True
        try:
            self._spawn()
        except OSError as exc:  # e.g. no process slots left: the notebook forked them all
            self._setup_failure = CallResult(False, error=f"the notebook's process could not "
                                             f"start ({exc.strerror or exc})")
            return self._setup_failure
        if self.files:
            sent = self._request({"op": "files", "files": {
                path: base64.b64encode(data).decode("ascii") for path, data in self.files.items()
            }}, self.setup_timeout, "copying the notebook's files")
            if not sent.ok:
                self._setup_failure = sent
                return sent
        result = self._request({"op": "setup", "cells": self.cells, "blocked": self.blocked},
                               self.setup_timeout, "running the notebook's code cells")
        if result.ok:
            self.cell_errors = list(result.value.get("cell_errors", []))
        else:  # the notebook itself hangs or kills its process: do not try again
            self._setup_failure = result
        return result

    def _stderr_tail(self, limit=300):
        """The end of what the student's process printed (for crash messages)."""
        if not self._stderr:
            return ""
        return b"".join(self._stderr)[-limit:].decode("utf-8", "replace").strip()

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def close(self):
        """Kill the child and its process group (idempotent)."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            if self.identity is not None and self.identity.reap is not None:
                self.identity.reap()  # first: a detached child may still hold the pipes
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            # stdout/stderr: their reader threads close them at end of file (closing them
            # here would wait for a reader blocked on a pipe a stray still holds open)
            self._proc = None
        self._stderr = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests --------------------------------------------------------------
    def _request(self, message, timeout, what):
        msg_id = next(self._ids)
        try:
            self._proc.stdin.write(json.dumps({**message, "id": msg_id}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.close()
            return CallResult(False, error=f"{what}: the notebook's process had exited")
        except TypeError as exc:
            return CallResult(False, error=f"{what}: {exc}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                return CallResult(False, error=f"{what}: no answer within {timeout:g} s "
                                  "(time limit)")
            if line is TOO_LONG or line is TOO_NESTED:
                self.close()
                limit = (f"larger than {MAX_REPLY_CHARS} characters" if line is TOO_LONG
                         else f"made of more than {MAX_CONTAINERS} lists and dicts")
                return CallResult(False, error=f"{what}: the answer is {limit}")
            if line is None:
                code = self._proc.wait()
                tail = self._stderr_tail()
                self.close()
                return CallResult(False, error=f"{what}: {exit_reason(code)}"
                                  + (f"; its last output: {tail}" if tail else ""))
            try:
                reply = json.loads(line)
                if type(reply) is not dict or reply.get("id") != msg_id:
                    continue  # not the answer to this request: never trusted
                if not reply.get("ok"):
                    return CallResult(False, error=f"{what}: {reply.get('error', 'failed')}",
                                      raised=True)
                if message["op"] == "setup":
                    return CallResult(True, {"cell_errors": [str(e) for e in reply["cell_errors"]]})
                return CallResult(True, decode(reply.get("result")))
            except Exception as exc:  # noqa: BLE001 - whatever the child sent, it is its fault
                return CallResult(False, error=f"{what}: invalid answer "
                                  f"({type(exc).__name__})")

    @property
    def broken(self):
        """Why the child can never run again (it could not start or replay), or None."""
        return self._setup_failure.error if self._setup_failure is not None else None

    def _ensure(self):
        if self._setup_failure is not None:
            return self._setup_failure
        if self.alive():
            return None
        started = self.start()
        return None if started.ok else started

    def call(self, fn, *args, timeout=10.0, **kwargs):
        """Call the student's ``fn(*args, **kwargs)`` in the child -> ``CallResult``.

        Arguments are plain data, or :class:`Ref` for the child's own objects.
        """
        failed = self._ensure()
        if failed is not None:
            return failed
        try:
            message = {"op": "call", "fn": fn, "args": encode_call_arg(list(args)),
                       "kwargs": encode_call_arg(kwargs)}
        except WireError as exc:
            return CallResult(False, error=f"{fn}(): {exc}")
        return self._request(message, timeout, f"{fn}()")

    def exec_cell(self, source, timeout=60.0):
        """Run one more cell in the child -> ``CallResult`` whose value is its error or None."""
        failed = self._ensure()
        if failed is not None:
            return failed
        return self._request({"op": "exec", "source": source}, timeout, "the cell")

    def describe(self, names, timeout=10.0):
        """What the child's ``names`` are (see ``host``): ``{name: description}``."""
        failed = self._ensure()
        if failed is not None:
            return failed
        return self._request({"op": "describe", "names": list(names)}, timeout,
                             "reading the notebook's variables")

    def read_output(self, name, limit=1 << 20, timeout=10.0):
        """The text of a file the notebook wrote to ``SUBMISSION_DIR`` -> ``CallResult``.

        name: a plain file name (no directories). The child reads it (regular files of
        at most ``limit`` bytes, no symbolic links or FIFOs) and sends the text: the
        checker never opens a path the notebook controls.
        """
        failed = self._ensure()
        if failed is not None:
            return failed
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            return CallResult(False, error=f"{name!r} is not a plain file name")
        result = self._request({"op": "read", "name": name, "limit": limit}, timeout, name)
        if result.ok and type(result.value) is not str:
            return CallResult(False, error=f"{name}: invalid answer")
        if not result.ok:  # the host's own reason, without the request prefix
            return CallResult(False, error=result.error.removeprefix(f"{name}: "))
        return result

    def get(self, name, timeout=10.0):
        """Read the variable ``name`` from the child's namespace -> ``CallResult``."""
        failed = self._ensure()
        if failed is not None:
            return failed
        return self._request({"op": "get", "name": name}, timeout, f"variable {name}")
