"""The student host: a child process that runs a student's notebook code.

Run as ``python -m dlcourse.grading.host``. It reads one JSON message per line
on stdin and answers one JSON line on the *original* stdout; the student's own
prints go to stderr. Operations:

- ``{"op": "setup", "cells": [...], "blocked": [...]}``: exec each code cell in
  one namespace (a failing cell is reported and skipped, like a notebook run
  with errors allowed); ``blocked`` lists modules the student may not import.
- ``{"op": "call", "fn": name, "args": [...], "kwargs": {...}}``: call a
  function the notebook defined and send back its return value.
- ``{"op": "get", "name": name}``: send back a variable.

Nothing here is trusted by the checker: the parent validates every value
(``wire.decode``) and compares it with its own reference. This file only has to
keep the student's code in a process of its own.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _strip_magics(source):
    """Drop IPython-only lines (``%magic``, ``!shell``) that plain Python cannot parse."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


class _Blocker:
    """A meta-path finder that refuses to import the listed modules."""

    def __init__(self, names):
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            raise ImportError(f"{fullname} may not be used in this lab (write your own code)")
        return None


def _error(exc):
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[-2000:]


def main():
    from dlcourse.grading.wire import WireError, decode, encode

    reply_fd = os.dup(1)
    os.dup2(2, 1)  # student prints (and C-level writes) go to stderr
    sys.stdout = sys.stderr
    reply = os.fdopen(reply_fd, "w", buffering=1)
    namespace = {"__name__": "__main__"}

    def send(message):
        try:
            text = json.dumps(message)
        except (TypeError, ValueError) as exc:
            text = json.dumps({"ok": False, "error": f"reply is not plain data: {exc}"})
        reply.write(text + "\n")
        reply.flush()

    for line in sys.stdin:
        msg = json.loads(line)
        op = msg.get("op")
        try:
            if op == "setup":
                if msg.get("blocked"):
                    sys.meta_path.insert(0, _Blocker(msg["blocked"]))
                errors = []
                for i, source in enumerate(msg["cells"]):
                    try:
                        exec(compile(_strip_magics(source), f"<cell {i}>", "exec"), namespace)
                    except BaseException as exc:  # noqa: BLE001 - any failure of a cell
                        if isinstance(exc, KeyboardInterrupt):
                            raise
                        errors.append(f"cell {i}: {_error(exc)}")
                send({"ok": True, "cell_errors": errors})
            elif op == "call":
                fn = namespace.get(msg["fn"])
                if not callable(fn):
                    send({"ok": False, "error": f"function {msg['fn']}() is not defined"})
                    continue
                args = decode(msg.get("args", []))
                kwargs = decode(msg.get("kwargs", {}))
                send({"ok": True, "result": encode(fn(*args, **kwargs))})
            elif op == "get":
                if msg["name"] not in namespace:
                    send({"ok": False, "error": f"variable {msg['name']} is not defined"})
                    continue
                send({"ok": True, "result": encode(namespace[msg["name"]])})
            else:
                send({"ok": False, "error": f"unknown op {op!r}"})
        except WireError as exc:
            send({"ok": False, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - report the student's error, keep serving
            send({"ok": False, "error": _error(exc)})


if __name__ == "__main__":
    main()
