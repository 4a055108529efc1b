"""Sandboxes started ahead of their job: each used for one job, then destroyed.

A sandbox spends most of a short job starting: the container, the interpreter, the
checker's imports (NumPy, nbformat, the course's references). A :class:`WarmPool` keeps
``size`` of them started and waiting for their one input, so a job that arrives finds
one ready; when a job takes one, a replacement starts in the background. A sandbox is
never returned to the pool: the trust boundary is the same as for a fresh one. When the
pool is empty (a burst, or the sandboxes are still starting) the runner starts one
itself, as without a pool.

The pool knows nothing of Docker or Kubernetes: a runner gives it ``start()`` (a new
sandbox, started and waiting), ``usable(sandbox)`` (still waiting, not crashed or
removed behind our back) and ``discard(sandbox)`` (stop and remove it).
"""

from __future__ import annotations

import collections
import logging
import threading

log = logging.getLogger(__name__)

#: seconds to wait before trying again after a sandbox failed to start
RETRY_SECONDS = 5.0


class WarmPool:
    """``size`` started sandboxes, refilled by one background thread (see module doc)."""

    def __init__(self, start, usable, discard, size: int):
        self._start, self._usable, self._discard = start, usable, discard
        self.size = size
        self._ready = collections.deque()
        self._lock = threading.Condition()
        self._closed = False
        self._thread = None
        self.taken = 0  # jobs that found a sandbox ready
        self.missed = 0  # jobs that found none and started their own

    def open(self):
        """Start filling the pool (idempotent); a no-op for ``size`` 0."""
        with self._lock:
            if self.size <= 0 or self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._fill, name="sandbox-warm-pool",
                                            daemon=True)
            self._thread.start()

    def ready(self) -> int:
        with self._lock:
            return len(self._ready)

    def take(self):
        """A started sandbox for one job, or None when none is ready."""
        while True:
            with self._lock:
                if not self._ready:
                    self.missed += 1
                    return None
                sandbox = self._ready.popleft()
                self._lock.notify_all()  # the filler starts a replacement
            if self._usable(sandbox):
                with self._lock:
                    self.taken += 1
                return sandbox
            log.warning("a warm sandbox stopped before its job; discarding it")
            self._discard_quietly(sandbox)

    def close(self):
        """Stop refilling and remove every sandbox still waiting."""
        with self._lock:
            self._closed = True
            waiting = list(self._ready)
            self._ready.clear()
            self._lock.notify_all()
        for sandbox in waiting:
            self._discard_quietly(sandbox)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _fill(self):
        while True:
            with self._lock:
                while not self._closed and len(self._ready) >= self.size:
                    self._lock.wait()
                if self._closed:
                    return
            try:
                sandbox = self._start()
            except Exception:  # noqa: BLE001 - the engine may be back in a moment
                log.exception("starting a warm sandbox failed; retrying in %g s",
                              RETRY_SECONDS)
                with self._lock:
                    self._lock.wait(RETRY_SECONDS)
                continue
            with self._lock:
                if not self._closed:
                    self._ready.append(sandbox)
                    continue
            self._discard_quietly(sandbox)  # closed while it started
            return

    def _discard_quietly(self, sandbox):
        try:
            self._discard(sandbox)
        except Exception:  # noqa: BLE001 - the janitor removes what is left
            log.exception("removing a warm sandbox failed")
