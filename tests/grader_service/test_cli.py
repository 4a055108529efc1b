"""Instructor CLI against a live service (list, regrade, export, push, verify) and JSON logs."""

import json
import logging
import os

import pytest

import grader_service
from grader_service.cli import main, submission_line
from grader_service.logs import JsonFormatter
from grader_service.worker import get_workers


@pytest.fixture
def graded(app, actions, released):
    """Three graded submissions (alice twice, bob once), each graded before the next
    arrives: a newer queued submission would supersede alice's first."""
    ids = []
    for token in ("alice-token", "bob-token", "alice-token"):
        ids.append(actions.submit(token=token).json["submission_id"])
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


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_url_and_token_from_a_terminals_environment(service_url, released, monkeypatch, capsys):
    """In a JupyterLab terminal the hub has set $GRADER_SERVICE_URL and the user's own
    $JUPYTERHUB_API_TOKEN: `dl-grader list` needs neither --url nor --token."""
    for name in ("GRADER_URL", "GRADER_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADER_SERVICE_URL", service_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")
    assert main(["list", "--course", "ml101"]) == 0
    assert "0 submission(s)" in capsys.readouterr().err
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "forged-token")
    assert main(["list", "--course", "ml101"]) == 2
    assert "HTTP 401" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["before", "after"])
def test_url_before_or_after_the_command(service_url, released, monkeypatch, where, capsys):
    monkeypatch.setenv("GRADER_SERVICE_URL", f"http://127.0.0.1:{_free_port()}")  # overridden
    url = ["--url", service_url, "--token", "prof-token"]
    argv = [*url, "list", "--course", "ml101"] if where == "before" else ["list", "--course",
                                                                         "ml101", *url]
    assert main(argv) == 0
    assert "0 submission(s)" in capsys.readouterr().err


def test_default_url_when_nothing_is_set(monkeypatch):
    from grader_service.cli import build_parser, service_url

    args = build_parser().parse_args(["list", "--course", "ml101"])
    assert service_url(args, {}) == "http://127.0.0.1:5000"
    assert service_url(args, {"GRADER_SERVICE_URL": "http://grader:5000"}) == "http://grader:5000"


@pytest.mark.parametrize("argv", [["list", "--course", "ml101"],
                                  ["verify", "--course", "ml101"],
                                  ["push", "--course", "ml101", "--assignment", "ps0"]])
def test_unreachable_service_is_one_line_and_non_zero(monkeypatch, argv, capsys):
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("GRADER_SERVICE_URL", url)
    monkeypatch.delenv("GRADER_URL", raising=False)
    assert main([*argv, "--token", "prof-token"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines == [f"dl-grader: cannot reach the grading service at {url} (Connection "
                     "refused); pass --url or set $GRADER_SERVICE_URL"], captured.err
    assert "Traceback" not in captured.err + captured.out


def test_unknown_host_is_one_line(capsys):
    code = main(["list", "--course", "ml101", "--token", "t",
                 "--url", "http://no-such-host.invalid:5000"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no-such-host.invalid:5000 (" in err


def test_installed_command_prints_no_traceback(tmp_path):
    """The console script itself (a subprocess), as a terminal runs it."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("dl-grader", path=os.path.dirname(sys.executable))
    assert exe, "dl-grader is not installed beside this Python"
    env = {"PATH": os.environ["PATH"], "GRADER_SERVICE_URL": f"http://127.0.0.1:{_free_port()}",
           "JUPYTERHUB_API_TOKEN": "x"}
    done = subprocess.run([exe, "list", "--course", "ml101"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_the_listing_flags_late_work_and_artifacts_that_did_not_verify():
    row = {"submission_id": "s1", "username": "alice", "assignment": "m03", "late": True,
           "timestamp": "2026-12-01T10:00:00Z", "status": "graded",
           "result": {"score": 17.0, "max_score": 25.0, "metrics": {
               "mlp_scratch_part2.ipynb": {"artifact_verified": 1.0, "test_accuracy": 0.95},
               "roll_compare.ipynb": {"artifact_verified": 0.0}}}}
    line = submission_line(row)
    assert line.endswith("17.0/25.0  LATE  ARTIFACT? roll_compare.ipynb"), line
    row["result"]["metrics"]["roll_compare.ipynb"]["artifact_verified"] = 1.0
    row["late"] = False
    assert submission_line(row).endswith("17.0/25.0"), submission_line(row)
    assert submission_line({**row, "result": None, "status": "queued"}).endswith("queued     -")


def test_config_lists_every_setting_with_its_value_and_hides_secrets(monkeypatch, capsys):
    from grader_service.config import SETTINGS

    monkeypatch.setenv("GRADER_WORKERS", "3")
    monkeypatch.setenv("GRADER_CANVAS_TOKEN", "s3cret-canvas")
    assert main(["config", "--json"]) == 0
    rows = {row["variable"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {var for var, *_ in SETTINGS.values()}
    assert rows["GRADER_WORKERS"]["value"] == 3 and rows["GRADER_WORKERS"]["set"]
    assert rows["GRADER_SANDBOX_TIMEOUT"]["value"] == 300.0
    assert not rows["GRADER_SANDBOX_TIMEOUT"]["set"]
    assert rows["GRADER_CANVAS_TOKEN"]["value"] == "(set)"
    assert all(row["help"] for row in rows.values())
    assert rows["GRADER_DATA_DIR"]["since"] == "0.2.0"
    assert rows["GRADER_K8S_NAMESPACE"]["since"] == "0.3.0"
    versions = {tuple(int(n) for n in row["since"].split(".")) for row in rows.values()}
    assert max(versions) <= tuple(int(n) for n in grader_service.__version__.split("."))
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert "GRADER_K8S_NAMESPACE = " in text and "s3cret-canvas" not in text


@pytest.mark.parametrize("command", ["serve", "http", "work"])
def test_an_unknown_setting_stops_the_service_from_starting(command, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_SANDBOX_TIMOUT", "30")  # the typo would leave 300 s in force
    monkeypatch.setenv("GRADER_URL", "http://grader:5000")  # a client variable: fine
    monkeypatch.setenv("GRADER_PORT_5000_TCP_ADDR", "10.0.0.7")  # a Kubernetes service link
    with pytest.raises(SystemExit) as stopped:
        main([command])
    message = str(stopped.value)
    assert "GRADER_SANDBOX_TIMOUT (did you mean GRADER_SANDBOX_TIMEOUT?)" in message
    assert "GRADER_URL" not in message and "GRADER_PORT" not in message
