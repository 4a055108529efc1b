"""Shared test helpers: the repository root on sys.path, the Docker requirement and a
real browser (``browser``: Debian's chromium driven by Playwright).

A test that needs Docker asks for the ``docker_client`` fixture. Without an engine it
is skipped on a developer machine, but fails under ``CI=true``: CI must never pass by
skipping the tier that matters.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI, when a test's prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate ``proc``; kill it if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def docker_client():
    """A Docker SDK client for a live engine (see module docstring)."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means "no engine"
        require(False, f"no Docker engine: {e}")
    return client


def require_image(client, name: str) -> None:
    """Skip locally / fail in CI when image ``name`` has not been built."""
    import docker

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        require(False, f"image {name} is missing (run `make images`)")


@pytest.fixture
def browser():
    """A fresh headless Chromium profile (Playwright persistent context) per test."""
    require(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    from tests.e2e.support.browser import CHROMIUM, CHROMIUM_ARGS

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield context
        context.close()


@pytest.fixture(autouse=True)
def absl_never_closes_pytest_capture():
    """TensorFlow's absl logging keeps the ``sys.stderr`` of the test that imported it,
    pytest's capture stream, and closes it when a later test's ``logging.config``
    (nbgrader, traitlets) shuts old handlers down: pytest then loses its own output.
    Point it at ``sys.__stderr__``, a stream absl never closes."""
    yield
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__
