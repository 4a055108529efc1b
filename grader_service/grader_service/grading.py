"""Grade one claimed submission: bundle -> runner -> result record -> stamp -> export."""

import logging

from . import __version__
from .blobs import BlobStore
from .db import Assignment, Status, Submission, isoformat, utcnow
from .metrics import Outcome
from .tarsafe import merge_archives

log = logging.getLogger(__name__)


class GradingService:
    """Everything a worker needs to grade, wired once per app (see ``worker.init_app``)."""

    def __init__(self, sessions, blobs: BlobStore, runner, signer, exporters, metrics,
                 max_unpacked_bytes):
        self.sessions = sessions
        self.blobs = blobs
        self.runner = runner
        self.signer = signer
        self.exporters = exporters
        self.metrics = metrics
        self.max_unpacked_bytes = max_unpacked_bytes

    def build_bundle(self, session, submission):
        """The sandbox input: ``source/`` (instructor files) + ``submission/`` (student files)."""
        assignment = session.get(Assignment, (submission.course, submission.assignment))
        return merge_archives({"source": self.blobs.get(assignment.source_sha256),
                               "submission": self.blobs.get(submission.sha256)},
                              self.max_unpacked_bytes)

    def grade(self, submission_id):
        """Run and record one submission that is already ``running``."""
        with self.sessions() as session:
            submission = session.get(Submission, submission_id)
            try:
                run = self.runner.run(self.build_bundle(session, submission))
            except Exception as err:  # infrastructure failure (docker down...), not the student's
                log.exception("grading %s failed", submission_id)
                run = _infrastructure_failure(err)
            self.metrics.gradings.labels(outcome=run.outcome.value).inc()
            self.metrics.grading_duration.observe(run.duration)
            submission.graded_at = utcnow()
            if run.outcome is Outcome.SUCCESS:
                record = self.build_record(submission, run)
                submission.result = record
                submission.stamp = self.signer.sign(record)
                submission.status = Status.GRADED
            else:
                submission.result = {"outcome": run.outcome.value, "message": run.message,
                                     "sandbox": run.sandbox}
                submission.status = Status.FAILED
            session.commit()
            if submission.status == Status.GRADED:
                self.export(submission)
            return submission

    def build_record(self, submission, run):
        tests = [{k: t[k] for k in ("notebook", "grade_id", "points", "max_points", "passed",
                                    "message")} for t in run.result["tests"]]
        return {
            "submission_id": submission.id,
            "roll_number": submission.roll_number,
            "username": submission.username,
            "submission_sha256": submission.sha256,
            "course": submission.course,
            "assignment": submission.assignment,
            "tests": tests,
            "notebooks": run.result.get("notebooks", {}),
            "score": run.result["score"],
            "max_score": run.result["max_score"],
            "outcome": run.outcome.value,
            "submitted_at": isoformat(submission.submitted_at),
            "graded_at": isoformat(submission.graded_at),
            "grader_version": __version__,
            "sandbox": run.sandbox,
        }

    def export(self, submission):
        for exporter in self.exporters:
            try:
                exporter.export(submission.result)
            except Exception:  # delivery is retried by a replay; grading already succeeded
                log.exception("exporter %s failed for %s", exporter.name, submission.id)


def _infrastructure_failure(err):
    from .runners import RunResult

    return RunResult(Outcome.ERROR, None, {}, f"grading infrastructure error: {type(err).__name__}")
