"""Telling the grading threads that a job is waiting, from wherever the job was queued.

The HTTP layer calls :func:`notify_grading` after it queues a job. What that reaches is
wired at start: the grading threads of the same process (one-process use and tests,
``worker.init_app``), or, under ``dl-grader serve``, a datagram on the grading process's
wake-up socket (:class:`WakeupSender`, received by :func:`listen_for_wakeups`). Without
either the job waits for the workers' next poll.
"""

import contextlib
import os
import socket
import threading

from flask import current_app

EXTENSION = "grader_notify"


class WakeupSender:
    """Nudge the grading process (a datagram on a Unix socket); best effort, never blocks."""

    def __init__(self, path):
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def __call__(self):
        # not listening (yet), or its buffer is full: it polls anyway
        with contextlib.suppress(OSError):
            self._sock.sendto(b"!", self.path)


def listen_for_wakeups(path, notify):
    """In the grading process: call ``notify()`` for every datagram on ``path``."""
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)

    def loop():
        while True:
            sock.recv(64)
            notify()

    threading.Thread(target=loop, name="grading-wakeup", daemon=True).start()


def init_app(app, notify=None):
    """Make ``notify`` (a callable, or nothing) what :func:`notify_grading` calls."""
    app.extensions[EXTENSION] = notify


def notify_grading(app=None):
    """A job was queued: wake the grading threads, if any are wired to hear it."""
    notify = (app or current_app).extensions.get(EXTENSION)
    if notify is not None:
        notify()
