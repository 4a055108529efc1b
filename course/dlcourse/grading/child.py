"""The student's process as the checker starts and reads it: who it runs as
(:class:`ChildIdentity`), the little environment it gets (:func:`child_environment`),
how it starts (:func:`spawn_child`) and how its answers are read (:func:`read_replies`):
line by line, with a line too long or too nested refused before it is parsed, and only
the tail of its own output kept. ``isolation.StudentHost`` drives it.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

#: Longest answer line read from the child (a larger one ends the child).
MAX_REPLY_CHARS = 64 * 1024 * 1024
TOO_LONG = object()
#: Most lists and dicts one answer may hold (each costs the checker memory to parse).
MAX_CONTAINERS = 200_000
TOO_NESTED = object()
#: How much of the child's own output (stderr) is kept, in 4 KiB chunks.
STDERR_TAIL_CHUNKS = 4

#: Environment variables the child inherits from the checker (everything else is dropped).
INHERITED_ENV = frozenset({"PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "KERAS_HOME"})

#: Environment the child gets on top of the inherited names: one thread per numeric
#: library, no GUI backend, no bytecode written.
CHILD_ENV = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
             "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class ChildIdentity:
    """Who the child runs as: ``uid``/``gid``, supplementary ``groups`` (none by
    default) and its ``home``.

    ``reap`` (optional) is called after the child is killed, to stop anything it
    left behind outside its process group (daemons that called ``setsid``).
    """

    uid: int
    gid: int
    home: str
    reap: object = None
    groups: tuple = ()

    def popen_kwargs(self):
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def exit_reason(code):
    """Why the notebook's process ended, in words a student can act on."""
    if code == -signal.SIGKILL:
        return ("the notebook's process was killed (SIGKILL): it reached the memory limit, "
                "or killed itself")
    return f"the notebook's process crashed (exit {code})"


def child_environment(home, extra):
    """The child's whole environment: only what Python needs, ``home``, then ``extra``
    (ROLL_NUMBER...). No tokens or other secrets of the grader reach the student."""
    # look up the few inherited names (never iterate os.environ: another thread,
    # e.g. pytest's PYTEST_CURRENT_TEST, may change it meanwhile: KeyError)
    env = {k: v for k in INHERITED_ENV if (v := os.environ.get(k)) is not None}
    env.update({"HOME": home, **CHILD_ENV, "MPLCONFIGDIR": os.path.join(home, ".matplotlib")})
    env.update(extra)
    return env


def spawn_child(env, options):
    """Start ``python -m dlcourse.grading.host`` in a session of its own; ``options``:
    ``ChildIdentity.popen_kwargs()`` or nothing (this process's uid)."""
    return subprocess.Popen(
        [sys.executable, "-I", "-m", "dlcourse.grading.host"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # not cwd=home: Popen chdirs as the checker, before the uid switch, and the
        # student's home is 0700; the host chdirs into a directory of its own
        env=env, text=True, bufsize=1, cwd="/", start_new_session=True, **options,
    )


def read_replies(proc, tail: collections.deque) -> queue.Queue:
    """Read ``proc``'s answers in a thread: a queue of lines, then ``TOO_LONG`` or
    ``TOO_NESTED`` (and nothing more) for a line refused, ``None`` at its end. The
    child's own output goes to ``tail`` (a bounded deque) from another thread."""
    lines: queue.Queue = queue.Queue()

    def pump():
        with proc.stdout:
            while True:
                line = proc.stdout.readline(MAX_REPLY_CHARS)
                if not line:
                    break
                if len(line) >= MAX_REPLY_CHARS and not line.endswith("\n"):
                    lines.put(TOO_LONG)  # a flood: never buffered whole in the checker
                    break
                if line.count("[") + line.count("{") > MAX_CONTAINERS:
                    lines.put(TOO_NESTED)  # a wire bomb: never parsed here
                    break
                lines.put(line)
        lines.put(None)  # EOF: the child died

    def drain():  # the child's prints: only the tail is kept, nothing touches a disk
        with proc.stderr:
            for chunk in iter(lambda: proc.stderr.buffer.read1(4096), b""):
                tail.append(chunk)

    for target in (pump, drain):
        threading.Thread(target=target, daemon=True).start()
    return lines
