"""nbgrader exchange plugin against a live service (werkzeug server, static identities)."""

import os
import threading

import pytest
from grader_testing import FIXTURES
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from traitlets.config import Config
from werkzeug.serving import make_server

from grader_service.exchange.nbgrader_config_snippet import apply
from grader_service.worker import get_workers


@pytest.fixture
def service_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/grader"
    server.shutdown()


@pytest.fixture
def exchange(service_url, tmp_path, monkeypatch):
    """Factory: ``exchange(op, token, cwd, **coursedir)`` -> a started-ready exchange object."""

    def build(op, token, cwd, assignment="", **coursedir_traits):
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("GRADER_SERVICE_URL", service_url)
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
        config = Config()
        apply(config)
        config.CourseDirectory.course_id = "ml101"
        config.CourseDirectory.assignment_id = assignment
        config.CourseDirectory.root = str(cwd)
        for key, value in coursedir_traits.items():
            setattr(config.CourseDirectory, key, value)
        coursedir = CourseDirectory(config=config)
        return getattr(ExchangeFactory(config=config), op)(coursedir=coursedir, config=config)

    return build


@pytest.fixture
def instructor_dir(tmp_path):
    root = tmp_path / "instructor"
    for part in ("source", "release"):
        (root / part).mkdir(parents=True)
        os.symlink(os.path.join(FIXTURES, "ps0", part), root / part / "ps0")
    return root


def test_release_fetch_submit_list(exchange, instructor_dir, tmp_path, app, monkeypatch):
    exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0").start()

    student = tmp_path / "alice"
    student.mkdir()
    released = exchange("List", "alice-token", student).start()
    assert [(a["assignment_id"], a["status"]) for a in released] == [("ps0", "released")]

    exchange("FetchAssignment", "alice-token", student, "ps0").start()
    assert (student / "ps0" / "ps0.ipynb").is_file()
    assert b"HIDDEN" not in (student / "ps0" / "ps0.ipynb").read_bytes()
    assert exchange("List", "alice-token", student).start()[0]["status"] == "fetched"
    with pytest.raises(ExchangeError, match="already have a copy"):
        exchange("FetchAssignment", "alice-token", student, "ps0").start()

    monkeypatch.setenv("ROLL_NUMBER", "21CS001")
    submit = exchange("Submit", "alice-token", student, "ps0")
    submit.start()
    assert submit.reply["status"] == "queued"
    get_workers(app).run_once()

    cached = exchange("List", "alice-token", student, cached=True)
    cached.cached = True
    [entry] = cached.start()
    assert (entry["course_id"], entry["student_id"], entry["assignment_id"]) == (
        "ml101", "alice", "ps0")
    assert entry["submissions"][0]["grading_status"] == "graded"

    inbound = exchange("List", "prof-token", instructor_dir)
    inbound.inbound = True
    assert [e["student_id"] for e in inbound.start()] == ["alice"]


def test_service_errors_become_exchange_errors(exchange, instructor_dir, tmp_path, monkeypatch):
    exchange("ReleaseAssignment", "prof-token", instructor_dir, "ps0").start()
    student = tmp_path / "bob"
    student.mkdir()
    exchange("FetchAssignment", "bob-token", student, "ps0").start()
    monkeypatch.setenv("ROLL_NUMBER", "21CS001")  # alice's roll number: a forged claim
    with pytest.raises(ExchangeError, match=r"HTTP 403.*roll_number"):
        exchange("Submit", "bob-token", student, "ps0").start()
    with pytest.raises(ExchangeError, match="HTTP 401"):
        exchange("FetchAssignment", "forged", tmp_path, "ps0").start()
