"""Instructor CLI against a live service (list, regrade, export, push, verify) and JSON logs."""

import json
import logging
import os

import pytest

from grader_service.cli import main
from grader_service.logs import JsonFormatter
from grader_service.worker import get_workers


@pytest.fixture
def graded(app, actions, released):
    ids = [actions.submit(token=t).json["submission_id"]
           for t in ("alice-token", "bob-token", "alice-token")]
    while get_workers(app).run_once() is not None:
        pass
    return ids


def _cli(service_url, *args, token="prof-token"):
    return main([args[0], "--url", service_url, "--token", token, *args[1:]])


def test_list_export_verify_regrade(service_url, graded, tmp_path, capsys):
    assert _cli(service_url, "list", "--course", "ml101") == 0
    out = capsys.readouterr().out
    assert all(sid in out for sid in graded) and out.count("graded") == 3

    folder = tmp_path / "export"
    assert _cli(service_url, "export", "--course", "ml101", "--output", str(folder)) == 0
    assert "export [" in capsys.readouterr().err  # the progress bar
    assert sorted(os.listdir(folder / "stamps")) == sorted(f"{s}.json" for s in graded)
    assert all(s in (folder / "gradebook.csv").read_text() for s in graded)
    offline = main(["verify", str(folder / "stamps" / f"{graded[0]}.json"),
                    "--public-key", str(folder / "public-key.pem")])
    assert offline == 0

    assert _cli(service_url, "verify", "--course", "ml101") == 0
    captured = capsys.readouterr()
    assert "3/3 stamps valid" in captured.out and "verify [" in captured.err

    # push: the latest grade of each student (alice twice, bob once) to the exporters
    assert _cli(service_url, "push", "--course", "ml101", "--assignment", "ps0") == 0
    assert "handed 2 grade(s) of ml101/ps0" in capsys.readouterr().out

    assert _cli(service_url, "regrade", "--course", "ml101", "--assignment", "ps0") == 0
    assert "requeued 3" in capsys.readouterr().out


def test_regrade_by_id_and_refusals(app, service_url, graded, capsys):
    assert _cli(service_url, "regrade", *graded[:2]) == 0
    assert "2/2" in capsys.readouterr().err
    assert _cli(service_url, "list", "--course", "ml101", "--status", "queued") == 0
    assert capsys.readouterr().out.count("queued") == 2
    assert _cli(service_url, "regrade", graded[2], token="alice-token") == 2
    assert "HTTP 403" in capsys.readouterr().err


def test_json_log_lines_carry_submission_ids():
    record = logging.LogRecord("grader_service.grading", logging.INFO, __file__, 1,
                               "grading finished: %s", ("graded",), None)
    record.submission_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "grading finished: graded"
    assert line["submission_id"] == "abc123" and line["level"] == "INFO"
    assert line["time"].endswith("Z")
