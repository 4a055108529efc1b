"""Fixtures for the course-module tests: the nbgrader release, and a timing summary.

``release_dir`` copies ``course/nbgrader`` to a temporary directory and runs
nbgrader's ``generate_assignment`` for every module there (the venv's bin dir on
PATH: nbgrader shells out to ``alembic``). Solution-notebook run times are
collected in ``TIMINGS`` and printed at the end of the session.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("dlcourse") is None:  # a fresh clone without `pip install -e`
    sys.path.insert(0, str(REPO / "course"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "course"), os.environ.get("PYTHONPATH")) if p)

from modules_testing import COURSE, TIMINGS, module_names, tier_shutdown  # noqa: E402
from roll_coverage import COVERING_ROLLS, RANDOM_ROLL  # noqa: E402

GENERATE = """
import sys
from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp

for name in sys.argv[2:]:
    app = GenerateAssignmentApp()
    app.initialize([name, "--force", "--CourseDirectory.db_url=" + sys.argv[1]])
    app.start()
"""


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory):
    """``release/`` of a temporary course directory after generate_assignment ran."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(COURSE, root, ignore=shutil.ignore_patterns("release", "*.db", "gradebook*"))
    # an instructor's own run of the capstone leaves its artifact beside the notebook;
    # test_release_has_every_module fails if it is released
    (root / "source" / "m08_capstone" / "submission_ZZ000000001.json").write_text("{}")
    env = {**os.environ, "PATH": os.pathsep.join((str(Path(sys.executable).parent),
                                                  os.environ.get("PATH", "")))}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", GENERATE, f"sqlite:///{root / 'gradebook.db'}", *module_names()],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    TIMINGS["nbgrader generate_assignment (all modules)"] = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "release"


def pytest_report_header(config):
    return (f"course roll numbers: {len(COVERING_ROLLS)} covering rolls; this session's random "
            f"roll {RANDOM_ROLL} (replay: COURSE_ROLL={RANDOM_ROLL} pytest ...)")


def pytest_sessionfinish(session):
    tier_shutdown()


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"course roll numbers: random roll {RANDOM_ROLL} "
                                f"(replay: COURSE_ROLL={RANDOM_ROLL})")
    if not TIMINGS:
        return
    terminalreporter.section("course modules: run times")
    notebooks = 0.0
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
        if name.startswith("m0") and "@" not in name:
            notebooks += seconds
    terminalreporter.write_line(f"{notebooks:7.1f} s  all solution notebooks together")
