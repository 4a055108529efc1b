"""Grade export seam: deliver each graded record somewhere, idempotently per submission."""

import csv
import os
import threading

from flask import current_app

from .plugins import load_class


class Exporter:
    """Contract: ``export(record)`` delivers one graded result.

    ``record`` is the signed stamp's record. Calling ``export`` again for the same
    ``(submission_id, graded_at)`` must not deliver it twice (replays are normal: a worker
    may crash after delivering and before noting it; a regrade has a new ``graded_at``).
    Subclasses set ``name``.
    """

    name = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.name:
            raise TypeError(f"{cls.__name__} must set a non-empty class attribute 'name'")

    @classmethod
    def from_config(cls, config):
        """Build the exporter from the app config (override to read your own keys)."""
        return cls()

    def export(self, record: dict) -> bool:
        """Deliver ``record``; return True if delivered now, False if it already was."""
        raise NotImplementedError("Override in subclass: export(record) -> bool")


GRADEBOOK_COLUMNS = ("graded_at", "course", "assignment", "username", "roll_number",
                     "submission_id", "sha256", "score", "max_score")


def gradebook_row(record):
    """One gradebook CSV row (dict keyed by :data:`GRADEBOOK_COLUMNS`) from a result record."""
    return {
        "graded_at": record["graded_at"],
        "course": record["course"],
        "assignment": record["assignment"],
        "username": record["username"],
        "roll_number": record.get("roll_number") or "",
        "submission_id": record["submission_id"],
        "sha256": record["submission_sha256"],
        "score": record["score"],
        "max_score": record["max_score"],
    }


class CsvGradebookExporter(Exporter):
    """Append one row per graded submission to ``<data_dir>/gradebook.csv``."""

    name = "csv"
    columns = GRADEBOOK_COLUMNS
    _lock = threading.Lock()

    def __init__(self, data_dir, filename="gradebook.csv"):
        self.path = os.path.join(data_dir, filename)

    @classmethod
    def from_config(cls, config):
        return cls(config["DATA_DIR"])

    def _exported_keys(self):
        if not os.path.exists(self.path):
            return set()
        with open(self.path, newline="", encoding="utf-8") as fh:
            return {(row["submission_id"], row["graded_at"]) for row in csv.DictReader(fh)}

    def export(self, record):
        row = gradebook_row(record)
        with self._lock:
            if (row["submission_id"], row["graded_at"]) in self._exported_keys():
                return False
            new_file = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            with open(self.path, "a", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.columns)
                if new_file:
                    writer.writeheader()
                writer.writerow(row)
                fh.flush()
                os.fsync(fh.fileno())
        return True


BUILTIN_EXPORTERS = {"csv": "grader_service.exporters:CsvGradebookExporter"}


def make_exporter(name, config):
    cls = load_class("dlcourse_grader.exporters", name, BUILTIN_EXPORTERS)
    return cls.from_config(config)


def init_app(app):
    names = [n.strip() for n in app.config["EXPORTERS"].split(",") if n.strip()]
    app.extensions["grader_exporters"] = [make_exporter(n, app.config) for n in names]


def get_exporters(app=None):
    return (app or current_app).extensions["grader_exporters"]
