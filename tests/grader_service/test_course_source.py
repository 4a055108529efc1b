"""The course's nbgrader source for instructors: ``GET /api/courses/<c>/course-source``,
``dl-grader fetch-source`` and the seeding of an instructor's server at start
(``grader_service.exchange.seed_source``, enabled by the image's
``jupyter_server_config.py``). The tree served is the repository's own
``course/nbgrader/source``, solutions and hidden tests included."""

import contextlib
import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import requests
from grader_testing import COURSE, auth

from grader_service.cli import main
from grader_service.config import from_env
from grader_service.exchange.seed_source import COMMAND, seed
from tests.conftest import REPO, stop_process
from tests.hub.test_hub_ops_config import load_server_config
from tests.images.test_singleuser_lab_ui import image_etc_jupyter
from tests.shipped_source import SOURCE, shipped_source

IMAGE_CONFIG_DIR = REPO / "images" / "singleuser"
PATH = f"/api/courses/{COURSE}/course-source"


def untar(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def tree(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def source_dir(tmp_path):
    """A copy of the course source with what an instructor's runs leave behind."""
    root = tmp_path / "shipped-source"
    for name, data in shipped_source().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "ps0" / ".ipynb_checkpoints").mkdir()
    (root / "ps0" / ".ipynb_checkpoints" / "ps0-checkpoint.ipynb").write_text("{}")
    (root / "m07_experimentation" / "submission_21CS001.json").write_text("{}")
    (root / "m05_cnn_scratch" / "__pycache__").mkdir()
    (root / "m05_cnn_scratch" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return root


@pytest.fixture
def app(app, source_dir):
    """conftest's service with ``GRADER_COURSE_SOURCE_DIR`` set."""
    app.config["COURSE_SOURCE_DIR"] = str(source_dir)
    return app


def test_the_setting_comes_from_the_environment_and_is_off_by_default():
    assert from_env({})["COURSE_SOURCE_DIR"] == ""
    assert from_env({"GRADER_COURSE_SOURCE_DIR": "/opt/course/source"})[
        "COURSE_SOURCE_DIR"] == "/opt/course/source"


def test_instructor_gets_the_source_tree_with_solutions_and_hidden_tests(client):
    response = client.get(PATH, headers=auth("prof-token"))
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/gzip"
    files = untar(response.data)
    assert files == shipped_source()  # no checkpoints, caches or submission files
    ps0 = files["ps0/ps0.ipynb"].decode()
    assert "### BEGIN SOLUTION" in ps0 and "### BEGIN HIDDEN TESTS" in ps0
    assert {name.split("/")[0] for name in files} == {p.name for p in SOURCE.iterdir()}


@pytest.mark.parametrize("token, course, status", [
    ("alice-token", COURSE, 403),  # a student of the course
    ("eve-token", COURSE, 403),  # another course's student
    ("olga-token", COURSE, 403),  # another course's instructor
    ("prof-token", "ml999", 403),  # the instructor, in a course they do not teach
    ("prof-token", "../ml101", 404),  # not a course name
    (None, COURSE, 401),
])
def test_only_the_courses_instructors_get_it(client, token, course, status):
    response = client.get(f"/api/courses/{course}/course-source",
                          headers=auth(token) if token else {})
    assert response.status_code == status, response.data[:300]
    assert response.json["error"]
    assert b"BEGIN SOLUTION" not in response.data


def test_unconfigured_or_missing_source_is_404_with_the_reason(app, client, tmp_path):
    app.config["COURSE_SOURCE_DIR"] = ""
    response = client.get(PATH, headers=auth("prof-token"))
    assert response.status_code == 404
    assert "GRADER_COURSE_SOURCE_DIR is not set" in response.json["error"]
    assert client.get(PATH, headers=auth("alice-token")).status_code == 403  # says nothing
    app.config["COURSE_SOURCE_DIR"] = str(tmp_path / "gone")
    response = client.get(PATH, headers=auth("prof-token"))
    assert response.status_code == 404
    assert f"{tmp_path / 'gone'} (GRADER_COURSE_SOURCE_DIR) is missing" in response.json["error"]


# --- dl-grader fetch-source ------------------------------------------------------------

def fetch(service_url, root, *args, token="prof-token"):
    return main(["fetch-source", "--url", service_url, "--token", token, "--course", COURSE,
                 "--course-dir", str(root), *args])


def test_fetch_source_adds_keeps_and_force_replaces(service_url, tmp_path, capsys):
    root = tmp_path / "course"
    assignments = sorted(p.name for p in SOURCE.iterdir())
    assert fetch(service_url, root) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"added {a}" for a in assignments]
    assert f"{len(assignments)} added in {root / 'source'}" in err
    assert tree(root / "source") == shipped_source()

    edited = root / "source" / "ps0" / "ps0.ipynb"
    edited.write_text("the instructor's edit")
    (root / "source" / "ps0" / "notes.md").write_text("mine")
    shutil.rmtree(root / "source" / "m01_foundations")
    assert fetch(service_url, root) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        f"added {a}" if a == "m01_foundations"
        else f"kept {a}: {root / 'source' / a} exists (--force replaces it)"
        for a in assignments]
    assert edited.read_text() == "the instructor's edit"
    assert (root / "source" / "ps0" / "notes.md").read_text() == "mine"

    assert fetch(service_url, root, "--force", "--assignment", "ps0") == 0
    assert capsys.readouterr().out.splitlines() == ["replaced ps0"]
    assert tree(root / "source") == shipped_source()  # ps0 as shipped, notes.md gone with it
    assert not [p for p in (root / "source").iterdir() if p.name.startswith(".")]


def test_fetch_source_refusals_write_nothing(app, service_url, tmp_path, capsys):
    root = tmp_path / "course"
    assert fetch(service_url, root, token="alice-token") == 2
    assert "HTTP 403" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="the course source has no assignment 'ps9'"):
        fetch(service_url, root, "--assignment", "ps9")
    app.config["COURSE_SOURCE_DIR"] = ""
    assert fetch(service_url, root) == 2
    assert "GRADER_COURSE_SOURCE_DIR is not set" in capsys.readouterr().err
    assert not (root / "source").exists() or not any((root / "source").iterdir())


# --- instructors' servers seed themselves -----------------------------------------------

def test_only_instructors_servers_load_the_seeding_extension(monkeypatch):
    extension = "grader_service.exchange.seed_source"
    teacher = load_server_config(monkeypatch, NBGRADER_ROLE="instructor")
    assert teacher.ServerApp.jpserver_extensions[extension] is True
    student = load_server_config(monkeypatch, NBGRADER_ROLE="student")
    assert extension not in student.ServerApp.jpserver_extensions


@pytest.fixture
def server_env(monkeypatch, tmp_path, service_url):
    """An instructor server's environment as the hub makes it: the image's nbgrader
    config on the Jupyter config path, HOME, COURSE_ID, the service URL and token."""
    home = tmp_path / "prof"
    home.mkdir()
    env = {"HOME": str(home), "COURSE_ID": COURSE, "JUPYTERHUB_USER": "prof",
           "NBGRADER_ROLE": "instructor", "GRADER_SERVICE_URL": service_url,
           "JUPYTERHUB_API_TOKEN": "prof-token", "JUPYTER_CONFIG_PATH": str(IMAGE_CONFIG_DIR),
           "JUPYTER_CONFIG_DIR": str(home / ".jupyter")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("GRADER_URL", "GRADER_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(home)
    return env


def test_seed_fetches_once_into_an_empty_course_source(server_env, caplog):
    source = Path(server_env["HOME"]) / COURSE / "source"
    log = logging.getLogger("test-seed")
    with caplog.at_level(logging.INFO, "test-seed"):
        report = seed(log)
    assert report.counts["added"] == len(list(SOURCE.iterdir()))
    assert tree(source) == shipped_source()
    assert "course source: added ps0" in caplog.text

    (source / "ps0" / "ps0.ipynb").write_text("edited")
    shutil.rmtree(source / "m01_foundations")
    assert seed(log) is None  # assignments there: never fetched again
    assert (source / "ps0" / "ps0.ipynb").read_text() == "edited"
    assert not (source / "m01_foundations").exists()


def test_seed_leaves_students_alone(server_env, monkeypatch):
    monkeypatch.setenv("NBGRADER_ROLE", "student")
    assert seed(logging.getLogger("test-seed")) is None
    assert not (Path(server_env["HOME"]) / COURSE).exists()


def test_seed_gives_up_quickly_with_a_warning(server_env, monkeypatch, caplog):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("GRADER_SERVICE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, "test-seed"):
            assert seed(logging.getLogger("test-seed"), timeout=1.0) is None
        assert time.monotonic() - start < 5
    assert f"run `{COMMAND}` in a terminal" in caplog.text
    assert "timed out" in caplog.text


@contextlib.contextmanager
def jupyter_server(tmp_path, env):
    """A real ``jupyter server`` with the image's /etc/jupyter: (process, url, log path)."""
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
             "--IdentityProvider.token=seed-test"],
            cwd=env["HOME"], stdout=out, stderr=subprocess.STDOUT,
            env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8",
                 **env, "JUPYTER_CONFIG_PATH": str(image_etc_jupyter(tmp_path))})
        try:
            yield proc, f"http://127.0.0.1:{port}", log
        finally:
            stop_process(proc)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, proc, log, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.25)


def server_up(url):
    try:
        return requests.get(f"{url}/api/status", params={"token": "seed-test"},
                            timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.slow
def test_an_instructors_server_seeds_its_course_source_at_start(server_env, tmp_path):
    with jupyter_server(tmp_path, server_env) as (proc, url, log):
        wait_for(lambda: server_up(url) and "course source: added ps0" in log.read_text(),
                 proc, log)
    assert tree(Path(server_env["HOME"]) / COURSE / "source") == shipped_source()


@pytest.mark.slow
def test_an_instructors_server_starts_without_the_service(server_env, tmp_path):
    env = {**server_env, "GRADER_SERVICE_URL": f"http://127.0.0.1:{_free_port()}"}
    with jupyter_server(tmp_path, env) as (proc, url, log):
        wait_for(lambda: server_up(url) and COMMAND in log.read_text(), proc, log)
    assert "Connection refused" in log.read_text()
    assert not any((Path(env["HOME"]) / COURSE / "source").glob("*"))
