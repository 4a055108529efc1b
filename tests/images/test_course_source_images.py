"""The course's source notebooks (solutions, hidden tests) are in the grading service
image, where its ``GRADER_COURSE_SOURCE_DIR`` says, exactly as the repository ships
them; and nowhere in the single-user image, under any path (its ``/home/jovyan`` is
scanned line by line in ``tests/course_modules/test_singleuser_image.py``)."""

import hashlib
import io
import os
import posixpath
import tarfile

import pytest

from tests.conftest import require_image
from tests.shipped_source import shipped_source

GRADER_IMAGE = os.environ.get("GRADER_IMAGE", "dlcourse/grader:latest")
SINGLEUSER_IMAGE = os.environ.get("SINGLEUSER_IMAGE", "dlcourse/singleuser:latest")

pytestmark = pytest.mark.docker


def image_env(docker_client, image):
    return dict(e.split("=", 1) for e in docker_client.images.get(image).attrs["Config"]["Env"])


def files_in(docker_client, image, folder):
    """``{relative name: bytes}`` of the regular files below ``folder`` in ``image``."""
    container = docker_client.containers.create(image, command="true", network_disabled=True)
    try:
        stream, _ = container.get_archive(folder)
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    top = posixpath.basename(folder.rstrip("/"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {posixpath.relpath(m.name, top): tar.extractfile(m).read()
                for m in tar if m.isfile()}


def test_grader_image_holds_the_course_source_where_configured(docker_client):
    require_image(docker_client, GRADER_IMAGE)
    folder = image_env(docker_client, GRADER_IMAGE).get("GRADER_COURSE_SOURCE_DIR")
    assert folder, "the grading service image does not set GRADER_COURSE_SOURCE_DIR"
    assert files_in(docker_client, GRADER_IMAGE, folder) == shipped_source()


def test_singleuser_image_holds_no_source_notebook_anywhere(docker_client):
    require_image(docker_client, SINGLEUSER_IMAGE)
    source = {hashlib.sha256(data).hexdigest(): name
              for name, data in shipped_source().items() if name.endswith(".ipynb")}
    listing = docker_client.containers.run(
        SINGLEUSER_IMAGE, ["sh", "-c", "find / -xdev -type f -name '*.ipynb' -exec sha256sum {} +"],
        user="root", network_disabled=True, remove=True).decode()
    found = dict(reversed(line.split(None, 1)) for line in listing.splitlines())
    released = [path for path in found if path.startswith("/home/jovyan/course/")]
    assert len(released) >= len(source), f"the scan saw {len(released)} released notebooks"
    copies = {path: source[digest] for path, digest in found.items() if digest in source}
    assert not copies, copies
