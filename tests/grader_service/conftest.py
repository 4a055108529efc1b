"""Fixtures for the grading service tests: a fresh app per test, callers, archives, Docker."""

import io
import os
import shutil
import tarfile

import nbformat
import pytest
from grader_testing import CALLERS, COURSE, FIXTURES, auth, fixture_tar, nbgrader_meta
from nbformat.v4 import new_code_cell, new_notebook

from grader_service.app import create_app
from grader_service.auth import StaticIdentityProvider
from grader_service.tarsafe import pack_directory
from tests.conftest import require_image


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def app(data_dir):
    return create_app({
        "DATA_DIR": data_dir,
        "DATABASE_URL": "",
        "RUNNER": "local",
        "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS),
        "MAX_UPLOAD_BYTES": 2 * 1024 * 1024,
        "MAX_UNPACKED_BYTES": 4 * 1024 * 1024,
        "SANDBOX_TIMEOUT": 120.0,
        "SANDBOX_CELL_TIMEOUT": 30.0,
        "SIGNING_KEY_FILE": "",
        "EXPORTERS": "csv",
    })


@pytest.fixture
def client(app):
    return app.test_client()


class Actions:
    """Common API calls, spelled once."""

    def __init__(self, client):
        self.client = client

    def release(self, token="prof-token", assignment="ps0", release=None, source=None):
        return self.client.post(
            f"/api/courses/{COURSE}/assignments/{assignment}/release", headers=auth(token),
            data={"release": (io.BytesIO(release or fixture_tar("release")), "release.tar.gz"),
                  "source": (io.BytesIO(source or fixture_tar("source")), "source.tar.gz")})

    def submit(self, token="alice-token", assignment="ps0", data=None, variant="student_right",
               **form):
        payload = {"submission": (io.BytesIO(data if data is not None else fixture_tar(variant)),
                                  "submission.tar.gz")}
        payload.update(form)
        return self.client.post(f"/api/courses/{COURSE}/assignments/{assignment}/submissions",
                                headers=auth(token), data=payload)


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
