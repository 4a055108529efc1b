"""Fixtures for the end-to-end tier: the real stack (IdP, hub, grading service) in Docker.

One stack per test session, under the project name ``dlcourse-e2e`` (or $E2E_PROJECT) on free ports, so
it never collides with a running ``make demo``. It is torn down with its volumes at
the end. Timings the closing notes quote are collected in ``build/e2e-metrics.json``.
"""

import json
import os
import time

import pytest
import requests

from scripts.localstack import LocalStack, StackConfig
from tests.conftest import REPO, require_image
from tests.e2e.support import DEMO_PASSWORD, free_port, login

IMAGES = ("dlcourse/hub:latest", "dlcourse/singleuser:latest", "dlcourse/grader:latest",
          "dlcourse/sandbox:latest")
METRICS = {}  # figures for the closing note, written to build/e2e-metrics.json
LMS = {}  # the fake LMS the stack's grading service sends grades to (started with it)
LMS_CONTEXT = "dl101-2026"
LMS_CLIENT_ID = "dlcourse-e2e-tool"


@pytest.fixture(scope="session")
def e2e_metrics():
    return METRICS


@pytest.fixture(scope="session")
def stack(docker_client):
    for image in IMAGES:
        require_image(docker_client, image)
    config = StackConfig(project=os.environ.get("E2E_PROJECT", "dlcourse-e2e"),
                         hub_port=free_port(), idp_port=free_port())
    local = LocalStack(config)
    local.down(remove_volumes=True)  # leftovers of an interrupted run
    try:
        LMS["platform"] = start_fake_lms(local)
        info = local.up()
        LMS["platform"].tool_jwks_url = f"{config.hub_url}/services/grader/api/lti/jwks"
        METRICS["hub_start_seconds"] = info["hub_start_seconds"]
        yield local
    finally:
        dump_logs(local)
        local.down(remove_volumes=True)
        if "platform" in LMS:
            LMS.pop("platform").stop()
        out = REPO / "build" / "e2e-metrics.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(METRICS, indent=2))
        print("\ne2e metrics:", json.dumps(METRICS))


def start_fake_lms(local: LocalStack):
    """The FAKE LMS (tests/fake_lms: LTI AGS + NRPS) on the project network's gateway,
    with every demo student enrolled as ``lms-<username>``; the grading service is
    configured to send it grades (``lti-ags``, user ids looked up by roll number)."""
    from scripts.localstack import demo_accounts
    from tests.fake_lms.ags import FakeAgsPlatform

    gateway = local.ensure_network()
    learners = {f"lms-{a['username']}": a["roll_number"] for a in demo_accounts()
                if a.get("roll_number")}
    platform = FakeAgsPlatform(LMS_CLIENT_ID, {LMS_CONTEXT: learners}).serve(host=gateway)
    local.config.grader_env = {
        "GRADER_EXPORTERS": "csv,lti-ags",
        "GRADER_LTI_CLIENT_ID": LMS_CLIENT_ID,
        "GRADER_LTI_TOKEN_URL": platform.token_url,
        "GRADER_LTI_LINEITEMS": f"dl101={platform.lineitems_url(LMS_CONTEXT)}",
        "GRADER_LTI_MEMBERSHIPS": f"dl101={platform.memberships_url(LMS_CONTEXT)}",
        "GRADER_EXPORT_RETRY_SECONDS": "2",
    }
    return platform


@pytest.fixture(scope="session")
def fake_lms(stack):
    return LMS["platform"]


def dump_logs(local: LocalStack) -> None:
    """Keep the containers' logs next to the metrics, for a failed CI run."""
    logdir = REPO / "build" / "e2e-logs"
    logdir.mkdir(parents=True, exist_ok=True)
    for name in [local.config.hub_container, local.config.grader_container]:
        try:
            (logdir / f"{name}.log").write_bytes(local.docker.containers.get(name).logs())
        except Exception as e:  # noqa: BLE001 - best effort
            (logdir / f"{name}.log").write_text(f"no logs: {e}")


class Hub:
    """Small client for the hub's REST API with the ops service token."""

    def __init__(self, stack: LocalStack):
        self.url = stack.config.hub_url
        self.api = f"{self.url}/hub/api"
        self.headers = {"Authorization": f"token {stack.secrets['ops_api_token']}"}

    def request(self, method, path, **kwargs):
        r = requests.request(method, f"{self.api}{path}", headers=self.headers, timeout=60,
                             **kwargs)
        return r

    def user_token(self, username: str) -> str:
        r = self.request("POST", f"/users/{username}/tokens",
                         json={"note": "e2e test", "expires_in": 3600})
        r.raise_for_status()
        return r.json()["token"]

    def stop_server(self, username: str, timeout: float = 60) -> None:
        """Stop ``username``'s server if one runs (e.g. a browser test started it)."""
        r = self.request("DELETE", f"/users/{username}/server")
        assert r.status_code in (202, 204, 400), r.text  # 400: no server running
        deadline = time.monotonic() + timeout
        while self.request("GET", f"/users/{username}").json().get("servers", {}).get(""):
            assert time.monotonic() < deadline, f"server of {username} did not stop"
            time.sleep(0.5)

    def spawn(self, username: str, timeout: float = 180) -> float:
        """Start ``username``'s server afresh; return seconds until it answers through
        the proxy."""
        self.stop_server(username)
        start = time.monotonic()
        r = self.request("POST", f"/users/{username}/server")
        assert r.status_code in (201, 202), r.text
        token = self.user_token(username)
        status_url = f"{self.url}/user/{username}/api/status"
        while time.monotonic() - start < timeout:
            model = self.request("GET", f"/users/{username}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                resp = requests.get(status_url, headers={"Authorization": f"token {token}"},
                                    timeout=10)
                if resp.status_code == 200:
                    return time.monotonic() - start
            time.sleep(0.5)
        raise TimeoutError(f"server of {username} not ready after {timeout}s")


@pytest.fixture(scope="session")
def hub(stack):
    return Hub(stack)


class Person:
    """A demo user who has logged in through the IdP and whose server is running."""

    def __init__(self, hub: Hub, username: str):
        self.username = username
        self.session = login(hub.url, username, DEMO_PASSWORD)
        self.token = hub.user_token(username)
        self.spawn_seconds = hub.spawn(username)
        self.server_url = f"{hub.url}/user/{username}"
        self.headers = {"Authorization": f"token {self.token}"}
        METRICS.setdefault("spawn_seconds", {})[username] = round(self.spawn_seconds, 2)


@pytest.fixture(scope="session")
def people(hub):
    """Logged-in users with running servers, created on first use."""
    cache = {}

    def get(username: str) -> Person:
        if username not in cache:
            cache[username] = Person(hub, username)
        return cache[username]

    return get


@pytest.fixture(scope="session")
def grader_url(stack):
    """The grading service as users reach it: through the hub's proxy."""
    url = f"{stack.config.hub_url}/services/grader"
    r = requests.get(f"{url}/health", timeout=10)
    assert r.status_code == 200, r.text
    return url

