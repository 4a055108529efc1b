"""The student host: a child process that runs a student's notebook code.

Run as ``python -I -m dlcourse.grading.host`` (in the grading sandbox under the
student's own uid, see ``grader_service.autograde.identities``). It reads one JSON
message per line on stdin and answers one JSON line on the *original* stdout; the
student's own prints go to stderr. Every message carries an ``id`` that the answer
echoes. Operations:

- ``{"op": "files", "files": {relpath: base64}}``: write the submission's files (and
  the instructor's data files) into the host's own working directory.
- ``{"op": "setup", "cells": [...], "blocked": [...]}``: exec each code cell in
  one namespace (a failing cell is reported and skipped, like a notebook run
  with errors allowed); ``blocked`` lists modules the student may not import.
- ``{"op": "exec", "source": str}``: run one more cell; answers ``error`` (or null).
- ``{"op": "describe", "names": [...]}``: what each defined name is, as data:
  ``{"kind": "data", "value": ...}``, ``{"kind": "function"}``, ``{"kind": "module",
  "module": name}`` or ``{"kind": "object", "type": name}``.
- ``{"op": "call", "fn": name, "args": [...], "kwargs": {...}}``: call a
  function the notebook defined and send back its return value; an argument
  ``{"__ref__": name}`` stands for the notebook's own object of that name.
- ``{"op": "get", "name": name}``: send back a variable.
- ``{"op": "read", "name": file, "limit": n}``: the text of a file the notebook wrote
  in its working directory (regular files only, no links).

Nothing here is trusted by the checker: the parent validates every value
(``wire.decode``) and compares it with its own reference. This file only has to
keep the student's code in a process of its own, with a working directory of its own
(``SUBMISSION_DIR``) that the checker never reads directly.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import tempfile
import traceback

REF_KEY = "__ref__"


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


def _first_to_die():
    """Ask the kernel's OOM killer to pick this process before the checker (best effort)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass


def _make_workdir():
    """A fresh working directory of our own (mode 0700), exported as ``SUBMISSION_DIR``."""
    workdir = tempfile.mkdtemp(prefix="notebook-", dir=os.environ.get("HOME") or None)
    os.chdir(workdir)
    os.environ["SUBMISSION_DIR"] = workdir
    sys.path.insert(0, workdir)  # the student's own helper modules, as in Jupyter
    return workdir


def _write_files(workdir, files):
    for relpath, data in files.items():
        parts = [p for p in relpath.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            continue
        path = os.path.join(workdir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))


def _read_file(workdir, name, limit):
    """(ok, text or reason) for a plain file name in ``workdir``."""
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        return False, f"{name!r} is not a plain file name"
    try:
        fd = os.open(os.path.join(workdir, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return False, f"the notebook did not write {name}"
    except OSError as exc:
        return False, f"{name} cannot be read ({exc.strerror})"
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return False, f"{name} is not a regular file"
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        return False, f"{name} is larger than {limit} bytes"
    return True, raw.decode("utf-8", "replace")


def _describe(namespace, name, encode):
    value = namespace[name]
    if type(value).__name__ == "module":
        return {"kind": "module", "module": str(getattr(value, "__name__", ""))}
    if callable(value) and not isinstance(value, type):
        return {"kind": "function"}
    try:
        return {"kind": "data", "value": encode(value)}
    except Exception:  # noqa: BLE001 - anything that is not plain data stays here
        return {"kind": "object", "type": type(value).__name__[:80]}


def _resolve_refs(value, namespace):
    if isinstance(value, dict) and set(value) == {REF_KEY}:
        return namespace[value[REF_KEY]]
    if isinstance(value, list):
        return [_resolve_refs(v, namespace) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_refs(v, namespace) for k, v in value.items()}
    return value


def _exec_cell(source, index, namespace):
    """Run one cell; None or the error text (KeyboardInterrupt stops the host)."""
    try:
        exec(compile(_strip_magics(source), f"<cell {index}>", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - any failure of a cell
        if isinstance(exc, KeyboardInterrupt):
            raise
        return f"cell {index}: {_error(exc)}"
    return None


def main():
    from dlcourse.grading.wire import WireError, decode, encode

    _first_to_die()
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # student prints (and C-level writes) go to stderr
    sys.stdout = sys.stderr
    reply = os.fdopen(reply_fd, "w", buffering=1)
    workdir = _make_workdir()
    namespace = {"__name__": "__main__"}
    cells_run = 0

    def send(msg_id, message):
        message["id"] = msg_id
        try:
            text = json.dumps(message)
        except (TypeError, ValueError) as exc:
            text = json.dumps({"id": msg_id, "ok": False,
                               "error": f"reply is not plain data: {exc}"})
        reply.write(text + "\n")
        reply.flush()

    for line in sys.stdin:
        msg = json.loads(line)
        op, msg_id = msg.get("op"), msg.get("id")
        try:
            if op == "files":
                _write_files(workdir, msg["files"])
                send(msg_id, {"ok": True})
            elif op == "setup":
                if msg.get("blocked"):
                    sys.meta_path.insert(0, _Blocker(msg["blocked"]))
                errors = []
                for source in msg["cells"]:
                    error = _exec_cell(source, cells_run, namespace)
                    cells_run += 1
                    if error:
                        errors.append(error)
                send(msg_id, {"ok": True, "cell_errors": errors})
            elif op == "exec":
                error = _exec_cell(msg["source"], cells_run, namespace)
                cells_run += 1
                send(msg_id, {"ok": True, "result": error})
            elif op == "describe":
                send(msg_id, {"ok": True, "result": {
                    name: _describe(namespace, name, encode)
                    for name in msg["names"] if name in namespace}})
            elif op == "call":
                fn = namespace.get(msg["fn"])
                if not callable(fn):
                    send(msg_id, {"ok": False, "error": f"function {msg['fn']}() is not defined"})
                    continue
                args = _resolve_refs(decode(msg.get("args", [])), namespace)
                kwargs = _resolve_refs(decode(msg.get("kwargs", {})), namespace)
                send(msg_id, {"ok": True, "result": encode(fn(*args, **kwargs))})
            elif op == "get":
                if msg["name"] not in namespace:
                    send(msg_id, {"ok": False, "error": f"variable {msg['name']} is not defined"})
                    continue
                send(msg_id, {"ok": True, "result": encode(namespace[msg["name"]])})
            elif op == "read":
                ok, text = _read_file(workdir, msg["name"], int(msg.get("limit", 1 << 20)))
                send(msg_id, {"ok": True, "result": text} if ok else {"ok": False, "error": text})
            else:
                send(msg_id, {"ok": False, "error": f"unknown op {op!r}"})
        except WireError as exc:
            send(msg_id, {"ok": False, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - report the student's error, keep serving
            send(msg_id, {"ok": False, "error": _error(exc)})


if __name__ == "__main__":
    main()
