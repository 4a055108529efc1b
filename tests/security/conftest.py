"""Fixtures of the hostile-submission corpus: the sandbox image and the honest companion.

The helpers (inputs, runs, the companion itself) live in ``security_kit``.
"""

import os

import pytest
from security_kit import HonestCompanion

from tests.conftest import require_image


@pytest.fixture(scope="session")
def sandbox_image(docker_client):
    """The sandbox image name; FAIL when CI=true and it is unavailable, else skip."""
    image = os.environ.get("GRADER_SANDBOX_IMAGE", "dlcourse/sandbox:latest")
    require_image(docker_client, image)
    return image


@pytest.fixture(scope="session")
def companion(sandbox_image):
    """Grades honest submissions back to back while the attacks run (see security_kit)."""
    companion = HonestCompanion(sandbox_image).start()
    yield companion
    companion.stop()
