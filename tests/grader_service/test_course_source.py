"""The course's nbgrader source for instructors: ``GET /api/courses/<c>/course-source``,
``dl-grader fetch-source`` and the seeding of an instructor's server at start
(``grader_service.exchange.seed_source``, enabled by the image's
``jupyter_server_config.py``). The tree served is the repository's own
``course/nbgrader/source``, solutions and hidden tests included."""

import io
import shutil
import tarfile
from pathlib import Path

import pytest
from grader_testing import COURSE, auth

from grader_service.cli import main
from grader_service.config import from_env
from tests.shipped_source import SOURCE, shipped_source

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
