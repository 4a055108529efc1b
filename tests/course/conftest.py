"""Fixtures for the dlcourse tests.

The package is normally installed (``pip install -e course``); if it is not,
``course/`` is put on sys.path (and on PYTHONPATH for subprocesses) so that
``pytest tests/course`` still runs from a fresh clone.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

COURSE_DIR = Path(__file__).resolve().parents[2] / "course"
if importlib.util.find_spec("dlcourse") is None:
    sys.path.insert(0, str(COURSE_DIR))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(COURSE_DIR), os.environ.get("PYTHONPATH")) if p
    )

@pytest.fixture
def rng():
    """A fresh seeded Generator per test."""
    return np.random.Generator(np.random.PCG64(1234))


@pytest.fixture
def run_python():
    """Run a snippet in a fresh interpreter (random hash seed) and return its stdout."""

    def run(code):
        env = {**os.environ, "PYTHONHASHSEED": "random"}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run
