"""Fixtures for the grading service tests: a fresh app per test, callers, archives, Docker."""

import io
import os
import shutil
import subprocess
import tarfile
import threading

import nbformat
import pytest
from grader_testing import (
    CALLERS,
    COURSE,
    FIXTURES,
    LMS_CLIENT_ID,
    LMS_ROLLS,
    StaticIdentityProvider,
    auth,
    fixture_tar,
    nbgrader_meta,
)
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config
from werkzeug.serving import make_server

from grader_service.exchange.nbgrader_config_snippet import apply
from grader_service.tarsafe import pack_directory
from tests.conftest import require, require_image
from tests.grader_service.prepared import prepared_app

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    """Run a module on both databases when it sets ``BOTH_BACKENDS = True``."""
    if "backend" in metafunc.fixturenames:
        both = getattr(metafunc.module, "BOTH_BACKENDS", False)
        metafunc.parametrize("backend", BACKENDS if both else BACKENDS[:1])


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster (Debian's packages; installed if missing).

    Skipped on a developer machine without PostgreSQL; FAILS under CI=true.
    """
    from postgres import PostgresCluster, find_bindir

    bindir = find_bindir()
    require(bindir is not None, "PostgreSQL is not installed and could not be installed")
    cluster = PostgresCluster(bindir)
    try:
        cluster.start()
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", b"") or b""
        require(False, f"PostgreSQL did not start: {err} {detail.decode(errors='replace')}")
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(request, backend):
    """Empty string (SQLite in DATA_DIR) or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return ""
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def app(data_dir, database_url):
    app = prepared_app({
        "DATA_DIR": data_dir,
        "DATABASE_URL": database_url,
        "RUNNER": "local",
        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS),
        "HUB_API_TOKEN": "grader-service-token",  # the results page's OAuth client secret
        "MAX_UPLOAD_BYTES": 2 * 1024 * 1024,
        "MAX_UNPACKED_BYTES": 4 * 1024 * 1024,
        "SANDBOX_TIMEOUT": 120.0,
        "SANDBOX_CELL_TIMEOUT": 30.0,
        "SIGNING_KEY_FILE": "",
        "EXPORTERS": "csv",
        "SUBMIT_RATE": "",  # tests submit in bursts; test_submit_rate.py turns it on
    })
    yield app
    app.extensions["grader_engine"].dispose()  # close pooled connections (PostgreSQL)


@pytest.fixture
def platform():
    """The fake LMS (LTI AGS) with course ``ctx-ml101`` holding alice and bob."""
    from tests.fake_lms.ags import FakeAgsPlatform

    lms = FakeAgsPlatform(LMS_CLIENT_ID, {"ctx-ml101": LMS_ROLLS})
    lms.serve()
    yield lms
    lms.stop()


@pytest.fixture
def lms_app(data_dir, database_url, platform):
    """The service exporting to the gradebook CSV and the fake LMS (use it as ``app``)."""
    app = prepared_app({
        "DATA_DIR": data_dir, "DATABASE_URL": database_url, "RUNNER": "local",
        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS), "SIGNING_KEY_FILE": "",
        "EXPORTERS": "csv,lti-ags", "EXPORT_RETRY_SECONDS": 0.0, "LTI_FROM_LAUNCHES": False,
        "LTI_CLIENT_ID": LMS_CLIENT_ID, "LTI_TOKEN_URL": platform.token_url,
        "LTI_LINEITEMS": f"ml101={platform.lineitems_url('ctx-ml101')}", "SUBMIT_RATE": "",
    })
    yield app
    app.extensions["grader_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Actions:
    """Common API calls, spelled once."""

    def __init__(self, client):
        self.client = client

    def release(self, token="prof-token", assignment="ps0", release=None, source=None, **form):
        """POST a release; ``form`` carries policy fields (due_at, allow_late, max_submissions)."""
        payload = {"release": (io.BytesIO(release or fixture_tar("release")), "release.tar.gz"),
                   "source": (io.BytesIO(source or fixture_tar("source")), "source.tar.gz")}
        payload.update(form)
        return self.client.post(f"/api/courses/{COURSE}/assignments/{assignment}/release",
                                headers=auth(token), data=payload)

    def submit(self, token="alice-token", assignment="ps0", data=None, variant="student_right",
               **form):
        payload = {"submission": (io.BytesIO(data if data is not None else fixture_tar(variant)),
                                  "submission.tar.gz")}
        payload.update(form)
        return self.client.post(f"/api/courses/{COURSE}/assignments/{assignment}/submissions",
                                headers=auth(token), data=payload)

    def submit_raw(self, token="alice-token", data=None, claims=None):
        """Submit the way the exchange plugin does: the tar.gz is the body."""
        headers = {**auth(token), "Content-Type": "application/gzip", **(claims or {})}
        return self.client.post(f"/api/courses/{COURSE}/assignments/ps0/submissions",
                                headers=headers,
                                data=data if data is not None else fixture_tar("student_right"))


@pytest.fixture
def actions(client):
    return Actions(client)


@pytest.fixture
def actions_factory():
    """For tests that build their own app: ``actions_factory(client)``."""
    return Actions


@pytest.fixture
def released(actions):
    response = actions.release()
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def tar_of():
    """Factory: ``tar_of({"name": b"bytes", ...})`` -> tar.gz bytes."""

    def build(files):
        members = []
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            members.append((info, payload))
        return _tar_with(*members)

    return build


def _tar_with(*members):
    """tar.gz bytes from ``(TarInfo, payload-or-None)`` pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


@pytest.fixture
def evil_tar():
    """Factory: ``evil_tar(kind)`` -> a tar.gz that the service must reject."""

    def build(kind):
        if kind == "absolute":
            info = tarfile.TarInfo("/etc/evil.ipynb")
        elif kind == "dotdot":
            info = tarfile.TarInfo("ps0/../../evil.ipynb")
        elif kind == "symlink":
            info = tarfile.TarInfo("ps0.ipynb")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info = tarfile.TarInfo("ps0.ipynb")
            info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            info = tarfile.TarInfo("dev")
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            info = tarfile.TarInfo("pipe")
            info.type = tarfile.FIFOTYPE
        elif kind == "bomb":  # small compressed, large unpacked (limit is 4 MiB in tests)
            payload = b"\0" * (5 * 1024 * 1024)
            info = tarfile.TarInfo("big.bin")
            info.size = len(payload)
            return _tar_with((info, payload))
        elif kind == "garbage":
            return b"this is not a tar archive"
        else:
            raise ValueError(kind)
        return _tar_with((info, None))

    return build


@pytest.fixture
def make_bundle(tmp_path):
    """Factory: a sandbox input tar from a solution cell and ``{grade_id: (points, test code)}``.

    The student notebook carries ``solution`` as its answer; the instructor notebook
    carries the tests. Used to probe the sandbox (network, memory, uid, timeout).
    """
    from grader_service.tarsafe import merge_archives

    def build(solution, tests, name="probe"):
        def notebook(with_tests):
            cells = [new_code_cell(solution, metadata=nbgrader_meta("answer", solution=True))]
            for gid, (points, code) in tests.items():
                cells.append(new_code_cell(code if with_tests else "# tests run when graded",
                                           metadata=nbgrader_meta(gid, grade=True, points=points)))
            return new_notebook(cells=cells, metadata={"kernelspec": {
                "name": "python3", "display_name": "Python 3", "language": "python"}})

        root = tmp_path / name
        for part, nb in (("source", notebook(True)), ("submission", notebook(False))):
            (root / part).mkdir(parents=True)
            nbformat.write(nb, str(root / part / f"{name}.ipynb"))
        return merge_archives({"source": pack_directory(str(root / "source")),
                               "submission": pack_directory(str(root / "submission"))}, 10**8)

    return build


@pytest.fixture
def fixture_bundle(tmp_path):
    """Factory: sandbox input for the ps0 fixture source and a student submission."""
    from grader_service.tarsafe import merge_archives

    def build(variant):
        """``variant``: a fixture folder name, a directory path, or None (nothing submitted)."""
        submission = tmp_path / f"sub-{os.path.basename(str(variant))}"
        submission.mkdir()
        if variant is not None:
            source = variant if os.path.isabs(str(variant)) else os.path.join(FIXTURES, "ps0", variant)
            shutil.copytree(source, submission, dirs_exist_ok=True)
        return merge_archives({"source": fixture_tar("source"),
                               "submission": pack_directory(str(submission))}, 10**8)

    return build


@pytest.fixture(scope="session")
def sandbox_image(docker_client):
    """The sandbox image name; FAIL when CI=true and it is unavailable, else skip."""
    image = os.environ.get("GRADER_SANDBOX_IMAGE", "dlcourse/sandbox:latest")
    require_image(docker_client, image)
    return image


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
