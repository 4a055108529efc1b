"""Integrity artifact and submission zip."""

import hashlib
import json
import zipfile

import numpy as np
import pytest

from dlcourse import __version__, artifacts
from dlcourse.roll import derive_config, short_hash

ROLL = "cs-2024/007"


@pytest.fixture
def artifact(tmp_path):
    metrics = {"accuracy": np.float64(0.9), "roc_auc": 0.95, "curve": np.array([0.1, 0.2]),
               "bad": float("nan")}
    return artifacts.write_submission(ROLL, metrics, tmp_path, started_at=0)


@pytest.fixture
def notebook(tmp_path):
    path = tmp_path / "MLP_RollCompare.ipynb"
    path.write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    return path


def test_artifact_contents(artifact):
    assert artifact.name == "submission_cs2024007.json"
    record = json.loads(artifact.read_text())
    assert record["roll_number"] == "CS2024007" and record["roll_clean"] == "cs2024007"
    assert record["short_hash"] == short_hash(ROLL) and len(record["short_hash"]) == 12
    assert record["config"] == derive_config(ROLL)
    assert record["metrics"] == {"accuracy": 0.9, "roc_auc": 0.95, "curve": [0.1, 0.2],
                                 "bad": None}
    assert record["started_at"] == "1970-01-01T00:00:00Z" and record["created_at"].endswith("Z")
    assert record["library"]["dlcourse"] == __version__
    assert artifacts.verify_submission(record) == []


@pytest.mark.parametrize("edit, problem", [
    (lambda r: r["metrics"].update(accuracy=1.0), "payload_sha256"),
    (lambda r: r.update(short_hash="0" * 12), "short_hash"),
    (lambda r: r["config"].update(epochs=999), "config"),
])
def test_tampering_is_detected(artifact, edit, problem):
    record = json.loads(artifact.read_text())
    edit(record)
    assert any(problem in p for p in artifacts.verify_submission(record))


def test_package_zip(artifact, notebook, tmp_path):
    out = artifacts.package_artifacts([notebook], artifact, tmp_path)
    assert out.name == "submission_cs2024007.zip"
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted([notebook.name, artifact.name, "MANIFEST.sha256"])
        manifest = zf.read("MANIFEST.sha256").decode()
    assert f"{hashlib.sha256(notebook.read_bytes()).hexdigest()}  {notebook.name}" in manifest
    assert artifacts.verify_package(out) == []
    first = out.read_bytes()
    assert artifacts.package_artifacts([notebook], artifact, tmp_path).read_bytes() == first


def test_verify_package_detects_a_changed_file(artifact, notebook, tmp_path):
    out = artifacts.package_artifacts([notebook], artifact, tmp_path)
    with zipfile.ZipFile(out) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[notebook.name] = b"{}"
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    assert any("differs" in p for p in artifacts.verify_package(out))


def test_cli(artifact, notebook, tmp_path, capsys):
    assert artifacts.main([str(notebook), "--roll", ROLL, "-o", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("submission_cs2024007.zip")
    assert artifacts.main([str(notebook), "--artifact", str(artifact), "--roll", "XY9999"]) == 1
    assert "another roll number" in capsys.readouterr().err
    assert artifacts.main([str(notebook), "--roll", "EE1234"]) == 1  # no such artifact


def test_package_refuses_an_edited_artifact(artifact, notebook, tmp_path):
    record = json.loads(artifact.read_text())
    record["metrics"]["accuracy"] = 1.0
    artifact.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="payload_sha256"):
        artifacts.package_artifacts([notebook], artifact, tmp_path)


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "course" / "pyproject.toml"
    meta = tomllib.loads(pyproject.read_text())
    assert meta["project"]["scripts"]["dlcourse-package-artifacts"] == "dlcourse.artifacts:main"
    assert meta["project"]["dependencies"] == ["numpy>=1.23"]
    assert meta["project"]["version"] == __version__
