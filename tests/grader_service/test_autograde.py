"""Autograde pipeline through the LocalRunner: scores, missing notebooks, hidden-test secrecy."""

import io
import json
import shutil
import tarfile
import threading
import time

import nbformat
import pytest

from grader_service.outcomes import Outcome
from grader_service.runners import SandboxLimits
from grader_service.runners.local import LocalRunner

HIDDEN = ("assert add(-1, 1) == 0", "negative numbers", "0.75")


@pytest.fixture(scope="module")
def runner():
    return LocalRunner(SandboxLimits(timeout=120, cell_timeout=30))


def grade(runner, bundle):
    run = runner.run(bundle)
    assert run.outcome is Outcome.SUCCESS, run.message
    return run.result


def by_id(result):
    return {t["grade_id"]: t for t in result["tests"]}


def assert_no_hidden_text(result):
    text = json.dumps(result)
    for secret in HIDDEN:
        assert secret not in text


def test_right_answer_gets_full_points(runner, fixture_bundle):
    result = grade(runner, fixture_bundle("student_right"))
    assert (result["score"], result["max_score"]) == (3.0, 3.0)
    assert all(t["passed"] for t in result["tests"])


def test_wrong_answer_gets_fewer_points(runner, fixture_bundle):
    result = grade(runner, fixture_bundle("student_wrong"))
    tests = by_id(result)
    assert (result["score"], result["max_score"]) == (1.0, 3.0)
    assert not tests["test_add"]["passed"] and tests["test_add"]["points"] == 0
    assert tests["test_add_floats"]["passed"]
    assert_no_hidden_text(result)


def test_missing_notebook_scores_zero_with_message(runner, fixture_bundle):
    result = grade(runner, fixture_bundle(None))
    assert (result["score"], result["max_score"]) == (0.0, 3.0)
    assert result["notebooks"]["ps0.ipynb"]["problem"] == "notebook ps0.ipynb was not submitted"
    assert all("not submitted" in t["message"] for t in result["tests"])


def test_malformed_notebook_scores_zero(runner, make_bundle):
    bundle = make_bundle("x = 1", {"t": (1, "assert x == 1")}, name="broken")
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(bundle)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name.startswith("submission/"):
                data = b"{not json"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    result = grade(runner, out.getvalue())
    assert result["score"] == 0
    assert "could not be read" in result["notebooks"]["broken.ipynb"]["problem"]


def test_student_cannot_fake_or_skip_tests(runner, tmp_path, fixture_bundle):
    """Edited test cells are overwritten, deleted ones restored, fake ones never scored."""
    from grader_testing import FIXTURES, nbgrader_meta

    variant = tmp_path / "cheat"
    shutil.copytree(f"{FIXTURES}/ps0/student_wrong", variant)
    nb = nbformat.read(str(variant / "ps0.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_add":
            cell.source = "pass"  # neutered official test
            cell.metadata["nbgrader"]["points"] = 100
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") != "test_add_floats"]
    nb.cells.append(nbformat.v4.new_code_cell(
        "pass", metadata=nbgrader_meta("bonus", grade=True, points=50)))
    nbformat.write(nb, str(variant / "ps0.ipynb"))
    result = grade(runner, fixture_bundle(variant))
    assert set(by_id(result)) == {"test_add", "test_add_floats"}
    assert (result["score"], result["max_score"]) == (1.0, 3.0)


def test_messages_quoting_hidden_tests_are_withheld(runner, make_bundle):
    hidden = "### BEGIN HIDDEN TESTS\nassert secret_check(add) == 'sesame'\n### END HIDDEN TESTS"
    code = "def secret_check(f):\n    raise ValueError(_ih[-1])\n" + hidden
    result = grade(runner, make_bundle("def add(a, b):\n    return a + b",
                                       {"t": (1, code)}, name="leak"))
    message = result["tests"][0]["message"]
    assert message == "a hidden test failed"


def test_cancel_stops_a_local_run_early(make_bundle):
    cancelled = threading.Event()
    threading.Timer(3, cancelled.set).start()
    started = time.monotonic()
    run = LocalRunner(SandboxLimits(timeout=120, cell_timeout=100)).run(
        make_bundle("import time\ntime.sleep(90)", {"t": (1, "pass")}, name="cancelled"),
        cancelled=cancelled)
    assert run.outcome is not Outcome.SUCCESS
    assert time.monotonic() - started < 20


def test_timeout_kills_local_run(make_bundle):
    runner = LocalRunner(SandboxLimits(timeout=5, cell_timeout=60))
    run = runner.run(make_bundle("import time\ntime.sleep(60)", {"t": (1, "pass")}, name="slow"))
    assert run.outcome is Outcome.TIMEOUT


def test_the_checker_starts_without_a_framework():
    """Preloading the checker imports no deep-learning framework (about 2 s per grading
    for PyTorch): labs that need one import it when they use it."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from grader_service.autograde.cli import preload_checker_modules\n"
            "preload_checker_modules()\n"
            "loaded = sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules))\n"
            "assert not loaded, loaded\n"
            "import dlcourse.grading.projects\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
