"""Fixtures for the demo IdP tests: one real IdP (node) per test session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    # Makes ``tests.e2e.support`` importable however pytest was started.
    sys.path.insert(0, str(REPO_ROOT))

from scripts.demo_idp import free_port, start_demo_idp  # noqa: E402

CLIENT_ID = "test-hub"
CLIENT_SECRET = "test-secret-0123456789"


@pytest.fixture(scope="session")
def idp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def fake_hub_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def redirect_uri(fake_hub_port) -> str:
    # The IdP tests stop at this redirect and read the code; the tests of the
    # login helper run a minimal fake hub on this port.
    return f"http://localhost:{fake_hub_port}/hub/oauth_callback"


@pytest.fixture(scope="session")
def demo_idp(tmp_path_factory, idp_port, redirect_uri):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are required for the demo IdP tests")
    log_path = tmp_path_factory.mktemp("idp") / "demo-idp.log"
    with start_demo_idp(
        port=idp_port,
        # Browser-facing issuer uses "localhost"; back-channel calls in the tests
        # go to 127.0.0.1, i.e. arrive with a different Host header, like the
        # hub's calls through the Docker gateway.
        issuer=f"http://localhost:{idp_port}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[redirect_uri],
        bind_host="127.0.0.1",
        log_path=log_path,
        cookie_keys=["test-cookie-key-1"],
    ) as idp:
        print(f"demo IdP started in {idp.startup_seconds:.2f}s (log {idp.log_path})")
        yield idp
