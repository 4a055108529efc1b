"""The grading copy: source notebooks reach the sandbox without their solutions."""

import io
import json
import tarfile
from pathlib import Path

import pytest
from grader_testing import FIXTURES

from grader_service.grading_copy import STRIPPED, grading_copy, strip_solutions
from grader_service.tarsafe import merge_archives, pack_directory

SOURCE = Path(FIXTURES) / "ps0" / "source"


def cells(data):
    return {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
            for c in json.loads(data)["cells"]}


def test_solution_code_is_gone_tests_and_hidden_tests_stay():
    original = (SOURCE / "ps0.ipynb").read_bytes()
    assert b"return a + b" in original  # positive control
    copy = strip_solutions(original)
    assert b"return a + b" not in copy
    kept = cells(copy)
    assert kept["add"] == STRIPPED
    assert "assert add(-1, 1) == 0" in kept["test_add"]  # hidden tests are the checker's
    assert kept["intro"].startswith("# Problem set 0")


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'{"cells": "x"}', b""])
def test_anything_but_a_notebook_is_left_alone(data):
    assert strip_solutions(data) == data


def test_merge_archives_rewrites_only_the_source_part():
    bundle = merge_archives({"source": pack_directory(str(SOURCE)),
                             "submission": pack_directory(str(SOURCE))}, 10**8,
                            rewrite={"source": grading_copy})
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    assert b"return a + b" not in files["source/ps0.ipynb"]
    assert b"return a + b" in files["submission/ps0.ipynb"]
    assert files["source/data.txt"] == (SOURCE / "data.txt").read_bytes()
    assert len(files["source/ps0.ipynb"]) == len(strip_solutions((SOURCE / "ps0.ipynb").read_bytes()))


def test_the_service_sends_the_sandbox_a_grading_copy(app, actions, released):
    from grader_service.db import Submission
    from grader_service.worker import get_workers

    sid = actions.submit(variant="student_right").json["submission_id"]
    service = get_workers(app).service
    with service.sessions() as session:
        submission = session.get(Submission, sid)
        bundle = service.build_bundle(submission, service.source_of(session, submission))
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    assert b"return a + b" not in files["source/ps0.ipynb"]
    assert b"assert add(-1, 1) == 0" in files["source/ps0.ipynb"]  # hidden tests kept
    assert b"return a + b" in files["submission/ps0.ipynb"]  # the student's own answer
