"""The single-user image's nbgrader config (images/singleuser/nbgrader_config.py) with
real nbgrader, as the formgrader calls it (``NbGraderAPI``) and as the CLI runs it:

- nobody's server autogrades: a hostile submission is never executed, and the
  formgrader and ``nbgrader autograde`` report why;
- instructors keep ``student_id = "*"`` and the course root ``~/<course>``: Collect
  and Generate Feedback cover every student;
- the gradebook's due date travels with the release and the service flags late work.
"""

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from grader_testing import COURSE, FIXTURES, auth, nbgrader_meta
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from grader_service.exchange.local_autograde import MESSAGE

IMAGE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "images" / "singleuser"


def image_config(monkeypatch, home, user, role):
    """The image's nbgrader config as the hub's environment makes it for ``user``."""
    venv_bin = os.path.dirname(sys.executable)  # nbgrader's gradebook runs `alembic`
    if venv_bin not in os.environ["PATH"].split(os.pathsep):
        monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("GRADER_SERVICE_URL",
                       os.environ.get("GRADER_SERVICE_URL", "http://127.0.0.1:9"))
    for key, value in {"HOME": str(home), "COURSE_ID": COURSE, "JUPYTERHUB_USER": user,
                       "NBGRADER_ROLE": role}.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("nbgrader_config.py", path=str(IMAGE_CONFIG_DIR)).load_config()


def formgrader_api(config):
    """What the formgrader server extension builds: one NbGraderAPI on the config."""
    return NbGraderAPI(CourseDirectory(config=config), config=config)


@pytest.fixture
def instructor(monkeypatch, tmp_path, service_url):
    """(config, api) of instructor ``prof`` whose server talks to the test service."""
    monkeypatch.setenv("GRADER_SERVICE_URL", service_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")
    config = image_config(monkeypatch, tmp_path / "prof", "prof", "instructor")
    return config, formgrader_api(config)


def hostile_notebook(marker):
    """A submission whose answer cell writes ``marker`` with the server's environment."""
    answer = f"import os\nopen({str(marker)!r}, 'w').write(repr(dict(os.environ)))\n"
    return new_notebook(cells=[
        new_code_cell(answer, metadata=nbgrader_meta("answer", solution=True)),
        new_code_cell("assert True", metadata=nbgrader_meta("check", grade=True, points=1)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def course_with_hostile_submission(root, marker):
    """``root`` with ps0 generated into its gradebook and alice's hostile submission."""
    source = root / "source" / "ps0"
    source.mkdir(parents=True)
    nb = hostile_notebook(marker)
    nb.cells[0].source = "### BEGIN SOLUTION\npass\n### END SOLUTION\n"
    nbformat.write(nb, str(source / "ps0.ipynb"))
    submitted = root / "submitted" / "alice" / "ps0"
    submitted.mkdir(parents=True)
    nbformat.write(hostile_notebook(marker), str(submitted / "ps0.ipynb"))
    (submitted / "timestamp.txt").write_text("2030-01-01 00:00:00.000000 UTC")


def test_roles_get_their_course_directory(monkeypatch, tmp_path):
    student = CourseDirectory(config=image_config(monkeypatch, tmp_path / "a", "alice", "student"))
    assert (student.student_id, student.course_id) == ("alice", COURSE)
    prof = CourseDirectory(config=image_config(monkeypatch, tmp_path / "p", "prof", "instructor"))
    assert prof.student_id == "*"
    assert prof.root == str(tmp_path / "p" / COURSE) and os.path.isdir(prof.root)


def test_formgrader_autograde_never_runs_the_submission(monkeypatch, tmp_path):
    marker = tmp_path / "student-code-ran"
    config = image_config(monkeypatch, tmp_path / "prof", "prof", "instructor")
    root = Path(CourseDirectory(config=config).root)
    course_with_hostile_submission(root, marker)
    api = formgrader_api(config)
    assert api.generate_assignment("ps0")["success"]

    result = api.autograde("ps0", "alice")
    assert not result["success"]
    assert f"[ERROR] {MESSAGE}" in result["log"].splitlines()
    assert not marker.exists()
    assert not (root / "autograded" / "alice" / "ps0").exists()


def test_nbgrader_autograde_cli_refuses_and_would_otherwise_run_it(monkeypatch, tmp_path):
    marker = tmp_path / "student-code-ran"
    config = image_config(monkeypatch, tmp_path / "prof", "prof", "instructor")
    root = Path(CourseDirectory(config=config).root)
    course_with_hostile_submission(root, marker)
    assert formgrader_api(config).generate_assignment("ps0")["success"]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "no-user-config"),
           "JUPYTERHUB_API_TOKEN": "the-instructors-token"}

    def autograde(config_path):
        return subprocess.run(
            [sys.executable, "-m", "nbgrader", "autograde", "ps0", "--student=alice",
             "--force", f"--CourseDirectory.root={root}"],
            cwd=root, env={**env, "JUPYTER_CONFIG_PATH": config_path},
            capture_output=True, text=True, timeout=300)

    refused = autograde(str(IMAGE_CONFIG_DIR))
    assert refused.returncode != 0 and MESSAGE in refused.stderr
    assert not marker.exists()

    # The control: without the image's config nbgrader runs the same submission here.
    ran = autograde(str(tmp_path / "no-config"))
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "the-instructors-token" in marker.read_text()


def release_ps0(api, root, duedate=None):
    shutil.copytree(os.path.join(FIXTURES, "ps0", "source"), root / "source" / "ps0")
    assert api.generate_assignment("ps0")["success"]
    if duedate is not None:  # what the formgrader's assignment editor stores
        api.gradebook.update_or_create_assignment("ps0", duedate=duedate)
    result = api.release_assignment("ps0")
    assert result["success"], result


def student_submits(exchange, tmp_path, monkeypatch, token, roll):
    home = tmp_path / token.split("-")[0]
    home.mkdir()
    fetch = exchange("FetchAssignment", token, home, "ps0")
    fetch.start()
    monkeypatch.setenv("ROLL_NUMBER", roll)
    submit = exchange("Submit", token, home, "ps0")
    submit.start()
    return submit.reply


def test_instructor_collects_and_generates_feedback_for_every_student(
        instructor, exchange, tmp_path, monkeypatch):
    config, api = instructor
    root = Path(api.coursedir.root)
    release_ps0(api, root)
    replies = {user: student_submits(exchange, tmp_path, monkeypatch, f"{user}-token", roll)
               for user, roll in (("alice", "21CS001"), ("bob", "21CS002"))}
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "prof-token")

    collected = api.collect("ps0")
    assert collected["success"] and "No submissions" not in collected.get("log", "")
    for user, reply in replies.items():
        folder = root / "submitted" / user / "ps0"
        assert (folder / "timestamp.txt").read_text() == reply["timestamp"]
        # The service's grades become the gradebook's; here only the rows and copies.
        shutil.copytree(folder, root / "autograded" / user / "ps0")
        with Gradebook(api.coursedir.db_url, COURSE) as gb:
            gb.update_or_create_student(user)
            gb.update_or_create_submission("ps0", user)

    feedback = api.generate_feedback("ps0")
    assert feedback["success"], feedback
    for user in replies:
        assert (root / "feedback" / user / "ps0" / "ps0.html").is_file()


def test_gradebook_due_date_reaches_the_service(instructor, exchange, client, tmp_path,
                                                monkeypatch):
    _config, api = instructor
    past = datetime.datetime(2020, 1, 1, 12, 0)  # the gradebook holds naive UTC
    release_ps0(api, Path(api.coursedir.root), duedate=past)
    [item] = client.get(f"/api/courses/{COURSE}/assignments", headers=auth("bob-token")).json
    assert item["due_at"] == "2020-01-01T12:00:00.000000Z"
    reply = student_submits(exchange, tmp_path, monkeypatch, "alice-token", "21CS001")
    assert reply["late"] is True
