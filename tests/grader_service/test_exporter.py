"""CSV gradebook exporter: header once, one row per submission, replays are no-ops."""

import csv

import pytest

from grader_service.exporters import Exporter
from grader_service.exporters.csv_gradebook import GRADEBOOK_COLUMNS, CsvGradebookExporter


def record(submission_id, score=2.0):
    return {"graded_at": "2025-01-01T00:00:00.000000Z", "course": "ml101", "assignment": "ps0",
            "username": "alice", "roll_number": "21CS001", "submission_id": submission_id,
            "submission_sha256": "ab" * 32, "score": score, "max_score": 3.0}


def test_rows_written_once_per_submission(tmp_path):
    exporter = CsvGradebookExporter(str(tmp_path))
    assert exporter.export(record("s1")) is True
    assert exporter.export(record("s1")) is False  # replay
    assert CsvGradebookExporter(str(tmp_path)).export(record("s1")) is False  # after restart
    assert exporter.export(record("s2", score=3.0)) is True
    with open(tmp_path / "gradebook.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(GRADEBOOK_COLUMNS)
    assert [r[5] for r in rows[1:]] == ["s1", "s2"]


def test_exporter_subclasses_must_be_named():
    with pytest.raises(TypeError):
        class Nameless(Exporter):
            pass
