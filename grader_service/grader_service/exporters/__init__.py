"""Grade export seam: deliver each graded record somewhere, idempotently per submission.

Built in: ``csv`` (gradebook file), ``lti-ags`` (LTI 1.3 Assignment and Grade Services)
and ``canvas`` (Canvas REST API). ``GradingService.export`` records every delivery per
exporter, so a retry only calls the exporters that have not delivered yet.
"""

from flask import current_app

from ..config import comma_names
from ..plugins import NamedPlugin, load_class


class DeliveryRefused(Exception):
    """The destination refused this one record (e.g. the student is not in the LMS
    course): it is retried later on its own, without holding up the exporter's others."""


class Exporter(NamedPlugin, kind=True):
    """Contract: ``export(record)`` delivers one graded result.

    ``record`` is the signed stamp's record. Calling ``export`` again for the same
    ``(submission_id, graded_at)`` must not deliver it twice (replays are normal: a worker
    may crash after delivering and before noting it; a regrade has a new ``graded_at``).
    Subclasses set ``name``.
    """

    @classmethod
    def from_config(cls, config):
        """Build the exporter from the app config (override to read your own keys)."""
        return cls()

    def export(self, record: dict) -> bool:
        """Deliver ``record``; return True if delivered now, False if it already was.

        Raise :class:`DeliveryRefused` when only this record cannot be delivered; any
        other exception means the destination is unusable (down, credentials refused)
        and the exporter is tried again after a back-off.
        """
        raise NotImplementedError("Override in subclass: export(record) -> bool")


BUILTIN_EXPORTERS = {
    "csv": "grader_service.exporters.csv_gradebook:CsvGradebookExporter",
    "lti-ags": "grader_service.exporters.lti_ags:LtiAgsExporter",
    "canvas": "grader_service.exporters.canvas:CanvasExporter",
}


def make_exporter(name, config):
    cls = load_class("dlcourse_grader.exporters", name, BUILTIN_EXPORTERS)
    return cls.from_config(config)


def init_app(app):
    app.extensions["grader_exporters"] = [make_exporter(name, app.config)
                                          for name in comma_names(app.config["EXPORTERS"])]


def get_exporters(app=None):
    return (app or current_app).extensions["grader_exporters"]
