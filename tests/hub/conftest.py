"""Fixtures for the LTI login tests: the fake LMS and a real JupyterHub process.

The hub runs the real ``hub/jupyterhub_config.py`` with ``HUB_AUTHENTICATOR=lti13``
through the overlay ``tests/hub/jupyterhub_config.py`` (no Docker, no proxy process).
The browser reaches the hub as ``localhost`` and the LMS as ``127.0.0.1``: two sites,
as in production, so cross-site cookie rules apply to the launch.
"""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from scripts.demo_idp import free_port
from tests.conftest import REPO, stop_process
from tests.fake_lms.launch import LmsContext, new_platform

HERE = Path(__file__).resolve().parent
COURSE_CONTEXT = LmsContext(id="ctx-4f1c9a", label="DL101-2026", title="Deep Learning")
COURSE_CONTACT = "dl101-staff@univ.example"
OTHER_CONTEXT = LmsContext(id="ctx-77aa01", label="PHY204", title="Optics")


class RunningHub:
    """A JupyterHub process and its REST API with the ops (admin) service token."""

    def __init__(self, url, api_token, process, log_path):
        self.url = url
        self.process = process
        self.log_path = log_path
        self.headers = {"Authorization": f"token {api_token}"}

    def api(self, method, path, **kwargs):
        return requests.request(method, f"{self.url}/hub/api{path}", headers=self.headers,
                                timeout=30, **kwargs)

    def user(self, name):
        """The user model with auth_state, or ``None`` when the hub has no such user."""
        r = self.api("GET", f"/users/{name}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def log(self):
        return self.log_path.read_text(errors="replace")


def wait_until_up(hub: RunningHub, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            pytest.fail(f"the hub exited ({hub.process.returncode}):\n{hub.log()[-4000:]}")
        try:
            if requests.get(f"{hub.url}/hub/api", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the hub did not answer in {timeout}s:\n{hub.log()[-4000:]}")


@pytest.fixture(scope="session")
def hub_port():
    return free_port()


@pytest.fixture(scope="session")
def lms(hub_port):
    platform = new_platform(f"http://localhost:{hub_port}").serve()
    yield platform
    platform.stop()


#: the hub's "prometheus" service token (scrapes /hub/metrics)
PROMETHEUS_TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="session")
def prometheus_token():
    """The token ``lti_hub`` gives its prometheus service (this module's own value)."""
    return PROMETHEUS_TOKEN


@pytest.fixture(scope="session")
def lti_hub(lms, hub_port, tmp_path_factory):
    state = tmp_path_factory.mktemp("lti-hub")
    api_token = secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "COURSE_HUB_CONFIG": str(REPO / "hub" / "jupyterhub_config.py"),
        "TEST_HUB_STATE_DIR": str(state),
        "TEST_HUB_PORT": str(hub_port),
        "HUB_AUTHENTICATOR": "lti13",
        "COURSE_IDS": "dl101,ml202",
        "LTI13_ISSUER": lms.issuer,
        "LTI13_CLIENT_ID": lms.tool.client_id,
        "LTI13_AUTHORIZE_URL": lms.authorize_url,
        "LTI13_JWKS_URL": lms.jwks_url,
        "LTI13_CONTEXT_COURSES": (f"{lms.tool.deployment_id}/{COURSE_CONTEXT.id}=dl101,"
                                  f"2:another-term/{COURSE_CONTEXT.id}=dl101"),
        "LTI13_DEPLOYMENT_IDS": f"{lms.tool.deployment_id}, 2:another-term",
        "JUPYTERHUB_CRYPT_KEY": Fernet.generate_key().decode(),
        "HUB_CONNECT_HOST": "127.0.0.1",
        "DOCKER_NETWORK_NAME": "unused",
        "SINGLEUSER_IMAGE": "unused",
        "GRADER_SERVICE_URL": "http://127.0.0.1:9",
        "GRADER_SERVICE_API_TOKEN": secrets.token_hex(16),
        "HUB_OPS_API_TOKEN": api_token,
        "HUB_PROMETHEUS_API_TOKEN": PROMETHEUS_TOKEN,
        "HUB_CULL_IDLE_SECONDS": "0",
        "HUB_SPAWN_SLOTS": "1",  # one start at a time: the spawn line is visible
        "COURSE_CONTACT": COURSE_CONTACT,
    }
    log_path = state / "jupyterhub.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")],
            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT)
    hub = RunningHub(f"http://localhost:{hub_port}", api_token, process, log_path)
    hub.state = state
    try:
        wait_until_up(hub)
        yield hub
    finally:
        stop_process(process)
        print(f"\nhub log: {log_path}")

