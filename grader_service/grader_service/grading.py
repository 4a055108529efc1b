"""Grade one leased submission: bundle -> runner -> result check -> guarded result write
-> stamp -> export."""

import json
import logging
import threading

from sqlalchemy import and_, insert, literal, null, select

from . import __version__, deliveries, manual, queue, result_check
from .blobs import BlobStore
from .db import (
    FINISHED,
    Assignment,
    Status,
    Submission,
    SupersededStamp,
    as_utc,
    isoformat,
    utcnow,
)
from .exporters import DeliveryRefused
from .grading_copy import grading_copy
from .heartbeat import Heartbeat
from .outcomes import ExportOutcome, Outcome
from .runners import RunResult
from .sandbox_protocol import JOB_INFO
from .tarsafe import merge_archives

log = logging.getLogger(__name__)


class GradingService:
    """Everything a worker needs to grade, wired once per app (see ``worker.init_app``)."""

    def __init__(self, sessions, blobs: BlobStore, runner, signer, exporters, metrics,
                 max_unpacked_bytes, lease_seconds=60.0, max_attempts=3,
                 export_retry_seconds=60.0):
        self.sessions = sessions
        self.blobs = blobs
        self.runner = runner
        self.signer = signer
        self.exporters = exporters
        self.metrics = metrics
        self.max_unpacked_bytes = max_unpacked_bytes
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.export_retry = deliveries.RetryDelay(export_retry_seconds)
        # no course package, no result check: refuse to start rather than sign unchecked
        self.notebook_rubric = result_check.require_course_package()

    def source_of(self, session, submission) -> bytes:
        """The instructor's ``source/`` archive of the submission's assignment."""
        assignment = session.get(Assignment, (submission.course, submission.assignment))
        return self.blobs.get(assignment.source_sha256)

    def build_bundle(self, submission, source: bytes):
        """The sandbox input: ``source/`` (the instructor's files as a grading copy: test
        cells and hidden tests, no solutions), ``submission/`` (the student's files) and
        ``job.json`` (assignment and the authoritative roll number, for rubric checks)."""
        info = {"course": submission.course, "assignment": submission.assignment,
                "roll_number": submission.roll_number}
        return merge_archives({"source": source, "submission": self.blobs.get(submission.sha256)},
                              self.max_unpacked_bytes,
                              files={JOB_INFO: json.dumps(info).encode()},
                              rewrite={"source": grading_copy})

    def grade(self, submission_id, owner):
        """Run the job ``owner`` has leased and record its outcome; return the row or None.

        None means the outcome was not recorded: the lease was lost (cancelled, or this
        worker stalled and another took over), so the other run's result stands.
        """
        with self.sessions() as session:
            submission = session.get(Submission, submission_id)
            extra = {"submission_id": submission_id, "attempt": submission.attempts}
            if submission.attempts > self.max_attempts:
                log.error("giving up on a job after %d attempts", submission.attempts, extra=extra)
                values = {"status": Status.FAILED, "graded_at": utcnow(),
                          "result": {"outcome": Outcome.INFRASTRUCTURE.value,
                                     "message": f"gave up after {self.max_attempts} attempts"}}
                return self._finish(session, submission_id, owner, values)
            log.info("grading started", extra=extra)
            lease_lost = threading.Event()  # cancelled or taken over: stop the sandbox
            with Heartbeat(lambda: self._renew(submission_id, owner), self.lease_seconds / 3,
                           on_lost=lease_lost.set):
                source, run = self._run(session, submission, lease_lost)
            values = self.outcome_values(submission, run, source)
            outcome = values["result"]["outcome"]  # "error" if the result was rejected
            self.metrics.gradings.labels(outcome=outcome).inc()
            self.metrics.grading_duration.observe(run.duration)
            if "warm" in run.sandbox:
                self.metrics.sandbox_starts.labels(
                    pool="warm" if run.sandbox["warm"] else "cold").inc()
            log.info("grading finished: %s", values["status"],
                     extra=dict(extra, outcome=outcome))
            row = self._finish(session, submission_id, owner, values)
        if row is not None and row.status == Status.GRADED:
            self.export(row)
        return row

    def _run(self, session, submission, cancelled):
        """``(source archive, RunResult)``; the source is what the result is checked against."""
        source = None
        try:
            source = self.source_of(session, submission)
            return source, self.runner.run(self.build_bundle(submission, source),
                                           cancelled=cancelled)
        except Exception as err:  # infrastructure failure (docker down...), not the student's
            log.exception("runner failed", extra={"submission_id": submission.id})
            return source, RunResult(Outcome.INFRASTRUCTURE, None, {},
                                     f"grading infrastructure error: {type(err).__name__}")

    def _renew(self, submission_id, owner):
        with self.sessions() as session:
            return queue.heartbeat(session, submission_id, owner, self.lease_seconds)

    def _finish(self, session, submission_id, owner, values):
        """Write the outcome under ``owner``'s lease. A final outcome replaces the row's
        stamp (``None`` unless graded); the replaced stamp is kept in
        ``superseded_stamps`` in the same transaction."""
        if values["status"] in FINISHED:
            values = {"stamp": null(), **values}  # SQL NULL (None would be JSON null)
            self._keep_superseded_stamp(session, submission_id, owner, values)
        if not queue.finish(session, submission_id, owner, **values):
            log.warning("result discarded: lease lost", extra={"submission_id": submission_id})
            return None
        return session.get(Submission, submission_id, populate_existing=True)

    @staticmethod
    def _keep_superseded_stamp(session, submission_id, owner, values):
        """Copy the row's current stamp (if any) to ``superseded_stamps``, guarded by the
        same lease as the write that replaces it (``queue.finish`` commits both; the row
        is locked on PostgreSQL, and SQLite serialises writers)."""
        record = values["result"] if values["status"] == Status.GRADED else {}
        held = and_(Submission.id == submission_id, Submission.lease_owner == owner,
                    Submission.status == Status.RUNNING, Submission.stamp.is_not(None))
        current = select(
            Submission.id, Submission.graded_at, Submission.stamp,
            literal(values["graded_at"], SupersededStamp.superseded_at.type),
            literal(str(values["status"]), SupersededStamp.superseded_by_status.type),
            literal(record.get("score"), SupersededStamp.superseded_by_score.type),
            literal(record.get("max_score"), SupersededStamp.superseded_by_max_score.type),
        ).where(held).with_for_update()
        session.execute(insert(SupersededStamp).from_select(
            ["submission_id", "graded_at", "stamp", "superseded_at", "superseded_by_status",
             "superseded_by_score", "superseded_by_max_score"], current))

    def outcome_values(self, submission, run, source):
        """The column values recording ``run`` (graded, ungradable, or back to the queue).

        A successful run is graded only if its result matches the tests of ``source``
        (the assignment's stored source archive, see :mod:`.result_check`); otherwise
        it is ungradable, and nothing is signed or exported.
        """
        now = utcnow()
        if run.outcome is Outcome.SUCCESS:
            checked, problem = self.check(submission, run, source)
            if checked is not None:
                record = self.build_record(submission, run, checked, now)
                record = self.with_stored_manual(submission.id, record, now)
                return {"status": Status.GRADED, "graded_at": now, "result": record,
                        "stamp": self.signer.sign(record), "exported_at": None}
            log.warning("sandbox result rejected: %s", problem,
                        extra={"submission_id": submission.id})
            run = RunResult(Outcome.ERROR, None, run.sandbox, problem, run.duration)
        result = {"outcome": run.outcome.value, "message": run.message, "sandbox": run.sandbox}
        if run.outcome is not Outcome.INFRASTRUCTURE:
            return {"status": Status.UNGRADABLE, "graded_at": now, "result": result}
        if submission.attempts < self.max_attempts:  # try again on the next claim
            return {"status": Status.QUEUED, "result": result}
        return {"status": Status.FAILED, "graded_at": now, "result": result}

    def check(self, submission, run, source):
        """``(Checked, None)`` for a result that matches the assignment's tests, else
        ``(None, reason)``."""
        try:
            expected = result_check.expected_tests(source, submission.assignment,
                                                   notebook_rubric=self.notebook_rubric)
        except result_check.SourceError as err:
            return None, f"the assignment's source cannot be checked: {err}"
        try:
            return result_check.checked_result(run.result, expected), None
        except result_check.ResultMismatch as err:
            return None, f"the sandbox result does not match the assignment's tests: {err}"

    def with_stored_manual(self, submission_id, record, now):
        """A regrade keeps the instructor's manual grades: the record with them applied
        when every manual item has one (see :mod:`.manual`), else as it is."""
        if not manual.manual_tests(record):
            return record
        with self.sessions() as session:
            grades = manual.stored_grades(session, submission_id)
        return manual.with_manual(record, grades, now) or record

    def build_record(self, submission, run, checked, graded_at):
        """The signed record: identity, hashes, the roll-number config, per-test points and
        totals as the service recomputed them (``checked``), metrics, sandbox facts,
        timestamps."""
        return {
            "submission_id": submission.id,
            "roll_number": submission.roll_number,
            "username": submission.username,
            "submission_sha256": submission.sha256,
            "course": submission.course,
            "assignment": submission.assignment,
            "roll_config": roll_config(submission.roll_number),
            "tests": checked.tests,
            "notebooks": checked.notebooks,
            "score": checked.score,
            "max_score": checked.max_score,
            "metrics": checked.metrics,
            "outcome": run.outcome.value,
            "late": bool(submission.late),
            "submitted_at": isoformat(submission.submitted_at),
            "graded_at": isoformat(graded_at),
            "grader_version": __version__,
            "sandbox": run.sandbox,
        }

    def export(self, submission):
        """Hand the result to every exporter that has not delivered it yet (skipping an
        exporter that failed recently, or that refused this record recently); mark it
        exported once all have."""
        record = submission.result
        with self.sessions() as session:
            done = deliveries.delivered_by(session, submission.id, record["graded_at"])
        owing = [e for e in self.exporters if e.name not in done]
        for exporter in owing:
            this_record = (exporter.name, submission.id)
            if not (self.export_retry.ready(exporter.name) and self.export_retry.ready(this_record)):
                continue
            try:
                fresh = exporter.export(record)
            except DeliveryRefused as err:  # only this record: the others go on
                self.export_retry.failed(this_record)
                self.metrics.exports.labels(exporter=exporter.name, outcome=ExportOutcome.REFUSED).inc()
                log.warning("exporter %s refused the result: %s", exporter.name, err,
                            extra={"submission_id": submission.id})
                continue
            except Exception:  # retried by export_pending; grading already succeeded
                self.export_retry.failed(exporter.name)
                self.metrics.exports.labels(exporter=exporter.name, outcome=ExportOutcome.FAILED).inc()
                log.exception("exporter %s failed", exporter.name,
                              extra={"submission_id": submission.id})
                continue
            self.export_retry.succeeded(exporter.name)
            self.export_retry.succeeded(this_record)
            outcome = ExportOutcome.DELIVERED if fresh is not False else ExportOutcome.ALREADY_DELIVERED
            self.metrics.exports.labels(exporter=exporter.name, outcome=outcome).inc()
            with self.sessions() as session:
                deliveries.record(session, submission.id, record["graded_at"], exporter.name)
            done.add(exporter.name)
        if all(e.name in done for e in self.exporters):
            with self.sessions() as session:
                queue.mark_exported(session, submission.id, as_utc(submission.graded_at))

    def export_pending(self):
        """Replay exports lost to a crash between recording and exporting; return the count."""
        with self.sessions() as session:
            pending = [session.get(Submission, sid) for sid in queue.unexported(session)]
        for submission in pending:
            self.export(submission)
        return len(pending)


def roll_config(roll_number):
    """The configuration derived from the authoritative roll number
    (``dlcourse.roll.derive_config``), or None when it is missing or invalid."""
    from dlcourse.roll import derive_config

    try:
        return derive_config(roll_number)
    except (TypeError, ValueError):
        return None
