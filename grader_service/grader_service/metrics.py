"""Prometheus metrics, one :class:`CollectorRegistry` per app.

Names follow ``<noun>_<verb>_<unit>``; every outcome label is created up front so
dashboards never see gaps.
"""

import enum

from flask import current_app
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Outcome(enum.StrEnum):
    """How a grading job ended (the ``outcome`` label and ``result["outcome"]``)."""

    SUCCESS = "success"  # sandbox returned a result; submission is graded
    TIMEOUT = "timeout"  # wall-clock limit hit, container killed
    OOM = "oom"  # sandbox killed by the memory limit
    ERROR = "error"  # sandbox crashed or printed something that is not one JSON object


class GraderMetrics:
    """The service's metrics, registered in their own registry."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.submissions_received = Counter(
            "grader_submissions_received", "Submissions accepted and queued.",
            registry=self.registry)
        self.gradings = Counter(
            "grader_gradings", "Grading jobs finished, by outcome.", ["outcome"],
            registry=self.registry)
        for outcome in Outcome:
            self.gradings.labels(outcome=outcome.value)
        self.grading_duration = Histogram(
            "grader_grading_duration_seconds", "Wall-clock time of one grading job.",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=self.registry)
        self.queue_depth = Gauge(
            "grader_queue_depth", "Submissions waiting to be graded.", registry=self.registry)


def init_app(app):
    app.extensions["grader_metrics"] = GraderMetrics()


def get_metrics(app=None) -> GraderMetrics:
    return (app or current_app).extensions["grader_metrics"]
