"""The gradebook CSV exporter: one appended row per graded submission."""

import csv
import fcntl
import os
import threading

from . import Exporter

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
    """Append one row per graded submission to ``<data_dir>/gradebook.csv``.

    Threads share a lock; processes (several grading processes on one data volume) also
    take an exclusive ``flock`` on ``gradebook.csv.lock``, so the check for an existing
    row and the append are one step everywhere.
    """

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
        with self._lock, open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
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
