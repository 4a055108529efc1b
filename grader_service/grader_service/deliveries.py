"""Which exporter delivered which graded result, and when a failing exporter is retried.

``GradingService.export`` asks :func:`delivered_by` before calling an exporter and
:func:`record` after it succeeded, so a retry (after an LMS outage or a crash) calls only
the exporters still owing the result. :class:`RetryDelay` keeps a failing exporter (an
LMS that is down) from being called for every pending result at every poll.
"""

import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .db import ExportDelivery, utcnow

MAX_RETRY_SECONDS = 3600.0


def delivered_by(session, submission_id, graded_at):
    """Names of the exporters that delivered the result graded at ``graded_at``."""
    return set(session.scalars(
        select(ExportDelivery.exporter).where(ExportDelivery.submission_id == submission_id,
                                              ExportDelivery.graded_at == graded_at)))


def record(session, submission_id, graded_at, exporter):
    """Note one delivery (a concurrent note of the same delivery is not an error)."""
    session.add(ExportDelivery(submission_id=submission_id, graded_at=graded_at,
                               exporter=exporter, delivered_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


class RetryDelay:
    """Per key (an exporter's name, or ``(name, submission id)`` for a record it
    refused): after ``n`` failures in a row, wait ``base * 2**(n-1)`` seconds (at most
    an hour) before trying again; a success clears it."""

    def __init__(self, base_seconds, clock=time.monotonic):
        self.base = base_seconds
        self.clock = clock
        self._failures = {}  # key -> (failures in a row, not before)
        self._lock = threading.Lock()

    def ready(self, key):
        with self._lock:
            return self.clock() >= self._failures.get(key, (0, 0.0))[1]

    def failed(self, key):
        with self._lock:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            delay = min(self.base * 2 ** (count - 1), MAX_RETRY_SECONDS)
            self._failures[key] = (count, self.clock() + delay)

    def succeeded(self, key):
        with self._lock:
            self._failures.pop(key, None)
