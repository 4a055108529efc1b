"""Prometheus metrics, one :class:`CollectorRegistry` per app.

Every name is ``grader_<noun>_<verb>_<unit>`` (counters get ``_total`` from the client),
every label value comes from an :class:`enum.Enum`, and every label set is created up
front so dashboards never see gaps:

=====================================  =====================================================
``grader_submissions_accepted_total``  submissions stored and queued (202)
``grader_submissions_rejected_total``  uploads refused, by ``reason`` (:class:`Rejection`)
``grader_jobs_finished_total``         grading runs, by sandbox ``outcome`` (:class:`Outcome`)
``grader_grading_duration_seconds``    wall-clock time of one grading run (histogram)
``grader_jobs_current``                submissions per queue ``status`` (gauge, at scrape)
``grader_exports_finished_total``      exporter deliveries, by ``exporter`` and ``outcome``
``grader_sandboxes_removed_total``     leftover sandboxes the janitor removed (no live job)
=====================================  =====================================================
"""

import os

from flask import current_app
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .config import comma_names
from .db import Status
from .outcomes import ExportOutcome, Outcome, Rejection


class GraderMetrics:
    """The service's metrics, registered in their own registry."""

    def __init__(self, exporter_names=("csv",)):
        self.registry = CollectorRegistry()
        reg = self.registry
        self.submissions_accepted = Counter(
            "grader_submissions_accepted", "Submissions stored durably and queued.", registry=reg)
        self.submissions_rejected = Counter(
            "grader_submissions_rejected", "Uploads refused, by reason.", ["reason"], registry=reg)
        self.gradings = Counter(
            "grader_jobs_finished", "Grading runs finished, by sandbox outcome.", ["outcome"],
            registry=reg)
        self.grading_duration = Histogram(
            "grader_grading_duration_seconds", "Wall-clock time of one grading run.",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=reg)
        self.jobs = Gauge(
            "grader_jobs_current", "Submissions in each queue status.", ["status"], registry=reg,
            multiprocess_mode="mostrecent")  # set from the database at each scrape
        self.exports = Counter(
            "grader_exports_finished", "Exporter deliveries, by exporter and outcome.",
            ["exporter", "outcome"], registry=reg)
        self.sandbox_starts = Counter(
            "grader_sandbox_starts", "Sandboxes that ran a job: `warm` ones were started "
            "ahead of it (the runner's pool), `cold` ones when the job came (the pool was "
            "empty or off).", ["pool"], registry=reg)
        self.sandboxes_removed = Counter(
            "grader_sandboxes_removed", "Leftover sandbox containers removed by the janitor "
            "(their grading process died mid-job).", registry=reg)
        _create_label_sets(self.submissions_rejected, reason=list(Rejection))
        _create_label_sets(self.gradings, outcome=list(Outcome))
        _create_label_sets(self.jobs, status=list(Status))
        _create_label_sets(self.sandbox_starts, pool=["warm", "cold"])
        for name in exporter_names:
            _create_label_sets(self.exports, exporter=[name], outcome=list(ExportOutcome))

    def set_job_counts(self, counts):
        """Set the gauge from ``{status: count}``; statuses without rows read 0."""
        for status in Status:
            self.jobs.labels(status=status.value).set(counts.get(status.value, 0))


    def exposition(self) -> bytes:
        """The text format for ``/metrics``: this process's registry, or, under
        ``dl-grader serve`` (prometheus_client multiprocess mode), every process's values."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return generate_latest(combined)


def _create_label_sets(metric, **values):
    """Touch every combination of label values so each series exists from the start."""
    names = list(values)

    def walk(index, chosen):
        if index == len(names):
            metric.labels(**chosen)
            return
        for value in values[names[index]]:
            walk(index + 1, {**chosen, names[index]: str(value)})

    walk(0, {})


def init_app(app):
    app.extensions["grader_metrics"] = GraderMetrics(comma_names(app.config["EXPORTERS"]))


def get_metrics(app=None) -> GraderMetrics:
    return (app or current_app).extensions["grader_metrics"]
