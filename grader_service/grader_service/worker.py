"""Background grading threads in the service process (bounded pool, DB-backed leased queue)."""

import logging
import os
import socket
import threading
import uuid

from flask import current_app

from . import db, exporters, metrics, stamp, wakeup
from .blobs import get_blobs
from .grading import GradingService
from .queue import claim_next
from .runners import make_runner

log = logging.getLogger(__name__)


def worker_id(index):
    """A lease owner unique to this process and thread (fits the 64-character column)."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{index}-{uuid.uuid4().hex[:8]}"


class GradingWorkers:
    """``count`` threads that lease queued (or abandoned) jobs and grade them.

    ``notify()`` wakes them after an enqueue (:mod:`.wakeup` routes the HTTP layer's
    notices here); they also poll every ``poll_seconds`` so jobs queued by another
    replica or process, and jobs whose worker died, are picked up.
    """

    def __init__(self, service: GradingService, count=2, poll_seconds=5.0, sweep_seconds=0.0):
        self.service = service
        self.count = count
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.threads = []

    def notify(self):
        self._wake.set()

    def run_once(self, owner=None):
        """Lease and grade one job; return its recorded row or None (used by tests too)."""
        owner = owner or worker_id("once")
        with self.service.sessions() as session:
            job = claim_next(session, owner, self.service.lease_seconds)
        if job is None:
            return None
        return self.service.grade(job.id, owner)

    def _loop(self, index):
        owner = worker_id(index)
        while not self._stop.is_set():
            try:
                with self.service.sessions() as session:
                    job = claim_next(session, owner, self.service.lease_seconds)
                if job is not None:
                    self.service.grade(job.id, owner)
                    continue
                self.service.export_pending()
            except Exception:
                log.exception("grading worker error")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def sweep(self):
        """Remove sandboxes no live job owns (``Runner.sweep``); return how many."""
        try:
            removed = self.service.runner.sweep()
        except Exception:
            log.exception("sandbox janitor error")
            return 0
        if removed and self.service.metrics is not None:
            self.service.metrics.sandboxes_removed.inc(removed)
        return removed

    def _janitor(self):
        while not self._stop.wait(self.sweep_seconds):
            self.sweep()

    def start(self):
        """Start the threads (``dl-grader serve`` only; tests call ``run_once``), after
        one sweep of leftover sandboxes (the janitor repeats it every ``sweep_seconds``)
        and with the runner's pool of started sandboxes warming up."""
        if self.count and self.sweep_seconds > 0:
            self.sweep()
            thread = threading.Thread(target=self._janitor, name="sandbox-janitor", daemon=True)
            thread.start()
            self.threads.append(thread)
        if self.count:
            self.service.runner.warm_up()
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, args=(index,),
                                      name=f"grader-worker-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout=None):
        self._stop.set()
        self._wake.set()
        for thread in self.threads:
            thread.join(timeout)
        self.service.runner.close()


def init_app(app):
    """Wire the grading service; threads start only in ``dl-grader serve``."""
    config = app.config
    with app.app_context():
        service = GradingService(
            sessions=db.session_factory(app), blobs=get_blobs(),
            runner=make_runner(config["RUNNER"], config),
            signer=stamp.get_signer(), exporters=exporters.get_exporters(app),
            metrics=metrics.get_metrics(app), max_unpacked_bytes=config["MAX_UNPACKED_BYTES"],
            lease_seconds=config["LEASE_SECONDS"], max_attempts=config["MAX_ATTEMPTS"],
            export_retry_seconds=config["EXPORT_RETRY_SECONDS"])
    workers = GradingWorkers(service, count=config["WORKERS"], poll_seconds=config["POLL_SECONDS"],
                             sweep_seconds=config["SWEEP_SECONDS"])
    app.extensions["grader_workers"] = workers
    wakeup.init_app(app, workers.notify)


def get_workers(app=None) -> GradingWorkers:
    return (app or current_app).extensions["grader_workers"]
