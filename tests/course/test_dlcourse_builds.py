"""The student build of dlcourse holds no reference module; the reference build only those;
the checker joins them back (``dlcourse.builds``)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dlcourse import builds

PACKAGE = Path(builds.__file__).resolve().parent


def package_modules():
    return {builds.module_name(str(p.relative_to(PACKAGE.parent))): p
            for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def test_every_file_is_in_exactly_one_build():
    modules = package_modules()
    assert len(modules) > 20
    for name in modules:
        assert builds.is_student_module(name) != builds.is_reference_module(name), name
    # and every listed name exists
    for name in (*builds.STUDENT_MODULES, *builds.REFERENCE_MODULES):
        assert name in modules, name


def test_graded_references_are_reference_only():
    for name in ("dlcourse.layers", "dlcourse.conv", "dlcourse.metrics", "dlcourse.thresholds",
                 "dlcourse.models", "dlcourse.train", "dlcourse.grading.checks",
                 "dlcourse.grading.rubrics.mlp", "dlcourse.twins.torch_twin"):
        assert builds.is_reference_module(name) and not builds.is_student_module(name)


def run_python(code, *paths):
    """Run ``code`` isolated (-I) with only ``paths`` added in front of sys.path."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    return subprocess.run([sys.executable, "-I", "-c", prelude + code],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def student_copy(tmp_path):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "dlcourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    removed = builds.student_build(site / "dlcourse")
    assert sorted(removed) == sorted(builds.REFERENCE_MODULES)
    return site


def test_student_build_imports_only_what_students_use(student_copy):
    left = {builds.module_name(str(p.relative_to(student_copy)))
            for p in student_copy.rglob("*.py")}
    assert left == set(builds.STUDENT_MODULES)
    probe = run_python(
        "import importlib, dlcourse\n"
        "assert dlcourse.__file__.startswith(sys.path[0]), dlcourse.__file__\n"
        "import dlcourse.roll, dlcourse.data, dlcourse.artifacts, dlcourse.grading.host\n"
        f"for name in {builds.REFERENCE_MODULES!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    raise SystemExit('importable: ' + name)\n",
        student_copy)
    assert probe.returncode == 0, probe.stderr + probe.stdout


def test_student_build_refuses_an_unclassified_module(student_copy):
    (student_copy / "dlcourse" / "answers.py").write_text("SECRET = 1\n")
    with pytest.raises(SystemExit, match="neither build"):
        builds.student_build(student_copy / "dlcourse")


def test_reference_build_and_attach_give_the_checker_everything(student_copy, tmp_path):
    wheel = tmp_path / "dlcourse-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in PACKAGE.rglob("*.py"):
            if "__pycache__" not in path.parts:
                archive.write(path, str(path.relative_to(PACKAGE.parent)))
        archive.writestr("dlcourse-0.1.0.dist-info/METADATA", "Name: dlcourse\n")
    reference = tmp_path / "reference"
    names = builds.reference_build(wheel, reference)
    assert names and all(builds.is_reference_module(n) for n in names)
    assert not (reference / "dlcourse" / "roll.py").exists()
    assert not (reference / "dlcourse" / "__init__.py").exists()
    probe = run_python(
        "import dlcourse.grading.isolation  # the checker imports this before it attaches\n"
        "from dlcourse.builds import attach_reference\n"
        f"assert attach_reference({str(reference)!r})\n"
        "import dlcourse.layers, dlcourse.grading.checks, dlcourse.grading.rubrics.mlp\n"
        f"assert dlcourse.layers.__file__.startswith({str(reference)!r})\n"
        "assert dlcourse.roll.__file__.startswith(sys.path[0])\n",
        student_copy)
    assert probe.returncode == 0, probe.stderr + probe.stdout


def test_attach_without_a_reference_directory_changes_nothing(tmp_path):
    assert builds.attach_reference(str(tmp_path / "missing")) is False
