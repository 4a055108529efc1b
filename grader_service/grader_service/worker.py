"""Background grading threads in the service process (bounded pool, DB-backed queue)."""

import logging
import threading

from flask import current_app

from . import db, exporters, metrics, stamp
from .blobs import get_blobs
from .grading import GradingService
from .queue import claim_next, requeue_running
from .runners import make_runner

log = logging.getLogger(__name__)


class GradingWorkers:
    """``count`` threads that claim queued submissions and grade them.

    ``notify()`` wakes them after an enqueue; they also poll every ``poll_seconds``
    so jobs queued by another replica are picked up.
    """

    def __init__(self, service: GradingService, count=2, poll_seconds=5.0):
        self.service = service
        self.count = count
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads = []

    def notify(self):
        self._wake.set()

    def run_once(self):
        """Claim and grade one job; return its submission or None (used by tests too)."""
        with self.service.sessions() as session:
            job = claim_next(session)
        if job is None:
            return None
        return self.service.grade(job.id)

    def _loop(self):
        while not self._stop.is_set():
            try:
                if self.run_once() is not None:
                    continue
            except Exception:
                log.exception("grading worker error")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def start(self):
        with self.service.sessions() as session:
            requeued = requeue_running(session)
        if requeued:
            log.warning("requeued %d submissions left running by a previous process", requeued)
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"grader-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout=None):
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)


def init_app(app):
    """Wire the grading service; threads start only in ``dl-grader serve``."""
    with app.app_context():
        service = GradingService(
            sessions=db.session_factory(app), blobs=get_blobs(),
            runner=make_runner(app.config["RUNNER"], app.config),
            signer=stamp.get_signer(), exporters=exporters.get_exporters(app),
            metrics=metrics.get_metrics(app),
            max_unpacked_bytes=app.config["MAX_UNPACKED_BYTES"])
    app.extensions["grader_workers"] = GradingWorkers(service, count=app.config["WORKERS"])


def get_workers(app=None) -> GradingWorkers:
    return (app or current_app).extensions["grader_workers"]
