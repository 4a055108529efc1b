"""The built single-user image carries no solution or hidden-test text.

Reads ``/home/jovyan`` of ``dlcourse/singleuser:latest`` (the preloaded course,
``build/course-release`` at build time) through the Docker API and looks for
the nbgrader markers and for every solution/hidden-test line of every source
notebook, including ps0's.
"""

import io
import json
import os
import tarfile

import nbformat
import pytest
from modules_testing import MARKERS, REPO, SOURCE, notebooks, secret_lines

IMAGE = os.environ.get("SINGLEUSER_IMAGE", "dlcourse/singleuser:latest")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def leaks_in(name, text, secrets):
    """Markers and secret lines found in one file (notebooks compared cell line by line)."""
    found = [f"{name}: {m}" for m in MARKERS if m in text]
    if name.endswith(".ipynb"):
        cells = json.loads(text).get("cells", [])
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                   for c in cells]
        text = "\n".join(sources)
    lines = {line.strip() for line in text.splitlines()}
    return found + [f"{name}: {line}" for line in sorted(secrets & lines)]


def all_secrets():
    secrets = set()
    for path in notebooks():
        secrets |= secret_lines(nbformat.read(str(path), as_version=4))
    return secrets


def secrets_for(member_name: str) -> set:
    """Secret lines of the source notebook a file of the image was released from.

    ``jovyan/course/<assignment>/<notebook>`` maps to ``source/<assignment>/<notebook>``;
    a line hidden in one notebook may legitimately be shown in another, so each
    released notebook is checked against its own source only. Other files get the
    marker check alone.
    """
    parts = member_name.split("/")
    if len(parts) < 4 or parts[1] != "course" or not member_name.endswith(".ipynb"):
        return set()
    source = SOURCE.joinpath(*parts[2:])
    if not source.is_file():
        return set()
    return secret_lines(nbformat.read(str(source), as_version=4))


def require_singleuser_image(docker_client):
    """FAIL when CI=true and the image is missing, else skip."""
    import docker

    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        (pytest.fail if IN_CI else pytest.skip)(f"image {IMAGE} is missing (run `make images`)")


def test_leak_scan_finds_solutions_in_a_source_notebook():
    path = next(p for p in notebooks() if p.name == "cnn_scratch.ipynb")
    assert len(leaks_in(path.name, path.read_text(), all_secrets())) > 10
    # The image scan maps a released file back to its own source notebook.
    own = secrets_for(f"jovyan/course/{path.parent.name}/{path.name}")
    assert len(leaks_in(path.name, path.read_text(), own)) > 10


@pytest.mark.docker
def test_singleuser_image_has_no_solutions(docker_client):
    require_singleuser_image(docker_client)
    container = docker_client.containers.create(IMAGE, command="true", network_disabled=True)
    try:
        stream, _ = container.get_archive("/home/jovyan")
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    scanned, leaks = 0, []
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        released = {name.split("/")[2] for name in archive.getnames()
                    if name.startswith("jovyan/course/") and name.count("/") >= 3}
        for member in archive.getmembers():
            if not member.isfile() or member.size > 5_000_000:
                continue
            text = archive.extractfile(member).read().decode("utf-8", "replace")
            scanned += member.name.endswith(".ipynb")
            leaks += leaks_in(member.name, text, secrets_for(member.name))
    assert scanned >= len(notebooks()), f"only {scanned} notebooks under /home/jovyan"
    assert not leaks, leaks[:10]
    # Every assignment of the course is preloaded (release versions).
    assert released >= {p.name for p in SOURCE.iterdir() if p.is_dir()}, released


def reference_report(run) -> dict:
    """The leak PROBE's report, ``run(argv)`` executing it somewhere."""
    from tests.leak_fingerprints import PROBE, probe_args

    return json.loads(run(["python", "-c", PROBE, *probe_args()]).strip().splitlines()[-1])


def test_reference_probe_finds_the_reference_in_the_full_build():
    """Positive control: the repository's own environment holds the full library, so the
    probe must see the reference modules and the files that define them."""
    import subprocess
    import sys

    from tests.leak_fingerprints import reference_fingerprints

    assert len(reference_fingerprints()) > 200
    report = reference_report(lambda argv: subprocess.run(
        [sys.executable, *argv[1:], ""], capture_output=True, text=True, check=True,
        cwd="/", timeout=300).stdout)
    assert "dlcourse.layers" in report["importable"], report
    found = {path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] for path in report["found"]}
    assert {"dlcourse/layers.py", "dlcourse/conv.py", "grading/checks.py"} <= found, found


@pytest.mark.docker
def test_singleuser_image_has_no_reference_implementations(docker_client):
    """As the student (uid 1000), nothing of the reference half of dlcourse is importable
    or readable: no module, and no file anywhere the course lives that holds a line of
    a reference implementation."""
    require_singleuser_image(docker_client)

    def run(argv):
        return docker_client.containers.run(IMAGE, argv, user="1000", network_disabled=True,
                                            remove=True).decode()

    report = reference_report(run)
    assert report["scanned"] > 30, report
    assert report["importable"] == [], report
    assert report["found"] == [], report


#: Run as the student in the image: what a save into ~/course/ does (JSON report).
PRELOADED_PROBE = """
import json, os, pathlib
course = pathlib.Path.home() / "course"
notebook = next(course.glob("*/*.ipynb"))
report = {"readme": (course / "README.md").read_text(), "denied": [], "writable": [],
          "syllabus": (course / "SYLLABUS.md").read_text()}
for target, mode in ((notebook, "a"), (notebook.with_name("copy.ipynb"), "w")):
    try:
        open(target, mode).close()
        report["writable"].append(str(target))
    except PermissionError:
        report["denied"].append(str(target))
report["writable"] += [str(p) for p in [course, *course.rglob("*")] if os.access(p, os.W_OK)]
print(json.dumps(report))
"""


@pytest.mark.docker
def test_preloaded_course_is_read_only_and_says_to_fetch(docker_client):
    """One editable copy per assignment: the fetched one. As uid 1000 nothing under
    ~/course/ can be changed or added, and its README says where to work."""
    require_singleuser_image(docker_client)
    out = docker_client.containers.run(IMAGE, ["python", "-c", PRELOADED_PROBE], user="1000",
                                       network_disabled=True, remove=True).decode()
    report = json.loads(out.strip().splitlines()[-1])
    assert report["writable"] == [], report["writable"][:5]
    assert len(report["denied"]) == 2
    assert "fetch the assignment from the Assignments tab" in report["readme"]
    # the syllabus (course/README.md) is preloaded beside it, and the README points to it
    assert report["syllabus"] == (REPO / "course" / "README.md").read_text()
    assert "SYLLABUS.md" in report["readme"]
