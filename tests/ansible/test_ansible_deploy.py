"""Apply site.yml to this machine for real, then back up and restore with the roles' tools.

``ansible_connection=local`` against this machine's Docker engine, under the project
name ``dlcourse-ansible`` (or $ANSIBLE_TEST_PROJECT): its own networks, volumes, free
ports and image tags, so it never meets ``make demo`` or tests/e2e. Login is the demo
OIDC IdP (scripts/demo_idp.py) on the project network's gateway, as in
scripts/localstack.py. What runs for real: the images role (the grading image comes
from a ``docker save`` archive), secrets, the containers, Debian's nginx with a
self-signed certificate (installed with apt by the tls role when missing, started
through its init script), the backup role's scripts and the monitoring files.

What does not run here: the docker role's engine set-up (``dlcourse_docker_install:
false``: this machine's engine is shared and must not be reconfigured or restarted),
Prometheus from apt (``dlcourse_monitoring_prometheus_install: false``; the generated
scrape jobs are scraped by the test instead) and the systemd timer: systemd is not PID 1
on these machines, so the backup script is run directly and the units are only checked
with ``systemd-analyze verify``. The hardening role keeps this kernel's ptrace scope (and
skips it where the kernel has no Yama). Every file goes to a temporary directory except the
nginx site, which is removed again; containers, volumes, networks, image tags, the IdP
and (when the test started it) nginx are removed at the end, also after a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from scripts.demo_idp import DEMO_PASSWORD, DemoIdP, free_port, launch_demo_idp
from tests.ansible.acme_testing import pebble_ca
from tests.ansible.ansible_testing import PlaybookRun, run_playbook
from tests.conftest import REPO, require, require_image
from tests.e2e.support.oidc_login import login

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT = os.environ.get("ANSIBLE_TEST_PROJECT", "dlcourse-ansible")
TAG = "ansible-test"
COMPONENTS = ("hub", "singleuser", "grader", "sandbox")
NGINX_AVAILABLE = Path("/etc/nginx/sites-available")
NGINX_ENABLED = Path("/etc/nginx/sites-enabled")
NGINX_PID = Path("/run/nginx.pid")
LOG_DIR = REPO / "build" / "ansible-logs"
TIMINGS: dict[str, float] = {}


@dataclass
class Deployment:
    """One deployment of site.yml on this machine, with its paths and ports."""

    root: Path
    inventory: Path
    ports: dict[str, int]
    idp: DemoIdP
    runs: dict[str, PlaybookRun] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.ports['https']}"

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def secrets_dir(self) -> Path:
        return self.config_dir / "secrets"

    @property
    def cacert(self) -> str:
        return str(self.config_dir / "tls" / "localhost.crt")

    @property
    def backup_dir(self) -> Path:
        return self.root / "backups"

    def session(self) -> requests.Session:
        """A session that trusts exactly the deployment's self-signed certificate
        (trust_env off: REQUESTS_CA_BUNDLE would replace ``verify``)."""
        sess = requests.Session()
        sess.trust_env = False
        sess.verify = self.cacert
        return sess

    def ops(self, method: str, path: str, **kwargs) -> requests.Response:
        """The hub REST API through nginx with the ops token the secrets role made."""
        token = (self.secrets_dir / "ops_api_token").read_text().strip()
        return self.session().request(method, f"{self.url}/hub/api{path}", timeout=30,
                                      headers={"Authorization": f"token {token}"}, **kwargs)

    def run(self, label: str, playbook: str, *args: str) -> PlaybookRun:
        result = run_playbook(playbook, self.inventory, *args)
        self.runs[label] = result
        TIMINGS[f"{label}_seconds"] = round(result.seconds, 1)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / f"{label}.log").write_text(result.output)
        return result


# --- set-up and tear-down ---------------------------------------------------------------
def nginx_running() -> bool:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(NGINX_PID.read_text().strip()), 0)
        return True
    return False


def inventory_for(root: Path, ports: dict[str, int], issuer: str) -> dict:
    return {"dlcourse": {
        "hosts": {"localhost": {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,  # has requests and cryptography
            "ansible_become": False,  # the test runs as root already
        }},
        "vars": {
            "dlcourse_project": PROJECT,
            "dlcourse_config_dir": str(root / "etc"),
            "dlcourse_hub_hostname": "localhost",
            "dlcourse_https_port": ports["https"],
            "dlcourse_http_port": ports["http"],
            "dlcourse_hub_host_port": ports["hub"],
            "dlcourse_grader_host_port": ports["grader"],
            "dlcourse_image_tag": TAG,
            "dlcourse_docker_install": False,
            "dlcourse_images_source": "tarball",
            "dlcourse_images_tarballs": [str(root / "grader-image.tar")],
            "dlcourse_images_dir": str(root / "images"),
            "dlcourse_oidc_issuer": issuer,
            "dlcourse_oidc_client_id": "jupyterhub",
            "dlcourse_oidc_client_secret": "ansible-test-client-secret",
            "dlcourse_course_ids": ["dl101"],
            "dlcourse_grader_workers": 1,
            "dlcourse_grader_http_processes": 1,
            "dlcourse_tls_listen_addresses": ["127.0.0.1"],
            "dlcourse_tls_hsts": False,
            "dlcourse_backup_dir": str(root / "backups"),
            "dlcourse_backup_keep": 2,
            # the second copy: another directory here (rsync to a path: another disk),
            # encrypted to an SSH ed25519 key whose private half only the test holds
            "dlcourse_backup_rsync_target": str(root / "offsite"),
            "dlcourse_backup_age_recipients": [backup_recipient(root)],
            "dlcourse_backup_timer_enabled": False,
            "dlcourse_backup_metrics_dir": str(root / "textfile"),
            "dlcourse_backup_script_path": str(root / "sbin" / "backup"),
            "dlcourse_backup_restore_script_path": str(root / "sbin" / "restore"),
            "dlcourse_backup_systemd_dir": str(root / "systemd"),
            "dlcourse_monitoring_prometheus_install": False,
            "dlcourse_health_timeout": 120,
            # the hardening role: the file in the temporary directory, and the kernel's
            # current ptrace scope (a shared test machine keeps its own)
            "dlcourse_ptrace_scope_sysctl_file": str(root / "sysctl" / "60-dlcourse-ptrace.conf"),
            "dlcourse_ptrace_scope": current_ptrace_scope(),
        },
    }}


def backup_recipient(root: Path) -> str:
    """An SSH ed25519 key pair for the backups' age encryption: the private key in
    ``root/backup-identity`` (kept off the VM in real life), the public key returned."""
    key = ed25519.Ed25519PrivateKey.generate()
    identity = root / "backup-identity"
    identity.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    identity.chmod(0o600)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def current_ptrace_scope() -> int:
    """This kernel's kernel.yama.ptrace_scope (2, the role's default, without Yama)."""
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    return 2


def teardown(client, nginx_before: bool | None, default_site_before: bool | None) -> None:
    """Remove everything the deployment made; each step on its own (best effort)."""
    import docker

    for container in client.containers.list(all=True):
        if container.name.startswith(f"{PROJECT}-") or \
                container.labels.get("dlcourse.project") == PROJECT:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name.startswith(f"{PROJECT}-"):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)
    for network in client.networks.list():
        if network.name in (f"{PROJECT}-net", f"{PROJECT}-students"):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
    for component in COMPONENTS:
        with contextlib.suppress(docker.errors.APIError):
            # untag; noprune keeps untagged parent layers (other engineers' build cache)
            client.images.remove(f"dlcourse/{component}:{TAG}", noprune=True)
    for path in (NGINX_ENABLED / f"{PROJECT}.conf", NGINX_AVAILABLE / f"{PROJECT}.conf"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if default_site_before and not (NGINX_ENABLED / "default").exists() \
            and (NGINX_AVAILABLE / "default").exists():
        (NGINX_ENABLED / "default").symlink_to(NGINX_AVAILABLE / "default")
    if nginx_before is False and nginx_running():
        # this test started nginx: stop it, by its pid
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(NGINX_PID.read_text().strip()), signal.SIGQUIT)
    elif nginx_before and shutil.which("nginx"):
        subprocess.run(["nginx", "-s", "reload"], check=False, capture_output=True)


def dump_logs(client) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for name in (f"{PROJECT}-hub", f"{PROJECT}-grader"):
        try:
            (LOG_DIR / f"{name}.log").write_bytes(client.containers.get(name).logs())
        except Exception as e:  # noqa: BLE001 - best effort
            (LOG_DIR / f"{name}.log").write_text(f"no logs: {e}")


@pytest.fixture(scope="module")
def deployment(docker_client, tmp_path_factory):
    for component in COMPONENTS:
        require_image(docker_client, f"dlcourse/{component}:latest")
    require(shutil.which("node") is not None, "node is not installed (the demo IdP needs it)")
    require(shutil.which("nginx") is not None or shutil.which("apt-get") is not None,
            "neither nginx nor apt-get is available (the tls role installs nginx with apt)")
    teardown(docker_client, None, None)  # leftovers of an interrupted run
    nginx_before = nginx_running()
    default_site_before = (NGINX_ENABLED / "default").exists()
    root = tmp_path_factory.mktemp("ansible-deploy")
    for sub in ("sbin", "systemd", "sysctl", "offsite"):
        (root / sub).mkdir()
    idp = None
    started = time.monotonic()
    try:
        # Own tags, so a rebuild of :latest during the run changes nothing here.
        for component in COMPONENTS:
            docker_client.images.get(f"dlcourse/{component}:latest").tag(
                f"dlcourse/{component}", TAG)
        # The grading image comes from an archive, as on an offline VM.
        subprocess.run(["docker", "save", "-o", str(root / "grader-image.tar"),
                        f"dlcourse/grader:{TAG}"], check=True, timeout=300)
        docker_client.images.remove(f"dlcourse/grader:{TAG}", noprune=True)

        network = docker_client.networks.create(
            f"{PROJECT}-net", driver="bridge", labels={"dlcourse.project": PROJECT})
        network.reload()
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
        ports = {name: free_port() for name in ("https", "http", "hub", "grader")}
        ports["idp"] = free_port(gateway)
        issuer = f"http://{gateway}:{ports['idp']}"
        idp = launch_demo_idp(
            ports["idp"], issuer, "jupyterhub", "ansible-test-client-secret",
            [f"https://localhost:{ports['https']}/hub/oauth_callback"], gateway,
            log_path=root / "idp.log")
        inventory = root / "inventory.yml"
        inventory.write_text(yaml.safe_dump(inventory_for(root, ports, issuer)))
        deployment = Deployment(root, inventory, ports, idp)
        TIMINGS["setup_seconds"] = round(time.monotonic() - started, 1)

        first = deployment.run("first_run", "site.yml")
        if first.returncode != 0 or first.recap.get("failed", 1) != 0:
            pytest.fail(f"site.yml failed (exit {first.returncode}):\n{first.tail()}",
                        pytrace=False)
        yield deployment
    finally:
        dump_logs(docker_client)
        if idp is not None:
            idp.stop()
        teardown(docker_client, nginx_before, default_site_before)
        shutil.rmtree(root, ignore_errors=True)
        TIMINGS["total_seconds"] = round(time.monotonic() - started, 1)
        print("\nansible deploy timings:", json.dumps(TIMINGS))


# --- what the first run built --------------------------------------------------------------
def test_first_run_deploys_every_role(deployment):
    first = deployment.runs["first_run"]
    assert first.recap["failed"] == 0 and first.recap["changed"] > 0
    for role in ("docker", "hardening", "images", "secrets", "stack", "tls", "backup",
                 "monitoring"):
        assert f"TASK [{role} : " in first.output, f"role {role} did not run"
    assert "Load every archive that changed" in first.output
    assert re.search(r"changed: \[localhost\] => \(item=.*grader-image\.tar\)", first.output)


def test_hub_answers_through_tls(deployment):
    sess = deployment.session()
    assert sess.get(f"{deployment.url}/hub/health", timeout=30).status_code == 200
    page = sess.get(f"{deployment.url}/hub/login", timeout=30)
    assert page.status_code == 200 and "University login" in page.text
    plain = requests.get(f"http://localhost:{deployment.ports['http']}/hub/login?x=1",
                         allow_redirects=False, timeout=30)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"{deployment.url}/hub/login?x=1"
    # metrics are for the local Prometheus only, not through the public port
    for path in ("/hub/metrics", "/services/grader/metrics"):
        assert sess.get(f"{deployment.url}{path}", timeout=30).status_code == 404


def test_student_logs_in_through_tls_with_the_roll_number(deployment):
    """IdP -> hub over HTTPS; auth_state (encrypted with the generated crypt key) holds
    the roll number from the claim, groups give the course."""
    login(deployment.url, "student1", DEMO_PASSWORD, session=deployment.session(),
          verify=deployment.cacert)
    user = deployment.ops("GET", "/users/student1").json()
    assert user["groups"] == ["nbgrader-dl101"]
    assert user["auth_state"]["roll_number"] == "CS21B001"


def test_grading_service_answers_and_signs_with_the_generated_key(deployment):
    local = f"http://127.0.0.1:{deployment.ports['grader']}"
    assert requests.get(f"{local}/health", timeout=30).json() == {"status": "ok"}
    through_hub = deployment.session().get(f"{deployment.url}/services/grader/health",
                                           timeout=30)
    assert through_hub.status_code == 200
    public_key = requests.get(f"{local}/api/public-key", timeout=30).text
    assert public_key == (deployment.config_dir / "grader_signing_key.pub.pem").read_text()


def test_student_servers_get_a_network_of_their_own(deployment, docker_client):
    """The hub spawns onto <project>-students (internal, no host address), which the hub
    and the grading service join; the grading service has its memory limit, no swap."""
    students = docker_client.networks.get(f"{PROJECT}-students")
    assert students.attrs["Internal"] is True
    assert students.attrs["Options"] == {"com.docker.network.bridge.inhibit_ipv4": "true"}
    hub = docker_client.containers.get(f"{PROJECT}-hub")
    grader = docker_client.containers.get(f"{PROJECT}-grader")
    for container in (hub, grader):
        assert set(container.attrs["NetworkSettings"]["Networks"]) == {
            f"{PROJECT}-net", f"{PROJECT}-students"}, container.name
    assert f"DOCKER_NETWORK_NAME={PROJECT}-students" in hub.attrs["Config"]["Env"]
    assert grader.attrs["HostConfig"]["Memory"] == 2 * 1024**3
    assert grader.attrs["HostConfig"]["MemorySwap"] == 2 * 1024**3


def test_secrets_are_root_only_files(deployment):
    assert deployment.config_dir.stat().st_mode & 0o777 == 0o700
    assert deployment.secrets_dir.stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in deployment.secrets_dir.iterdir())
    assert names == ["grader_hub_api_token", "grader_signing_key.pem", "jupyterhub_crypt_key",
                     "ops_api_token", "prometheus_token", "proxy_auth_token"]
    for path in [*deployment.secrets_dir.iterdir(), deployment.config_dir / "tls/localhost.key"]:
        info = path.stat()
        assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (0o600, 0, 0), path
    assert re.fullmatch(r"[0-9a-f]{64}", (deployment.secrets_dir / "jupyterhub_crypt_key")
                        .read_text().strip())


def metric_names(text: str) -> set[str]:
    """Every sample name an exposition can carry: its samples, and for each # TYPE line
    (a labelled family may have no sample yet) the names of that type's series."""
    suffixes = {"counter": ("", "_total", "_created"), "histogram": ("_bucket", "_sum", "_count"),
                "summary": ("", "_sum", "_count")}
    names = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.MULTILINE))
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        base = name.removesuffix("_total") if kind == "counter" else name
        names.update(base + suffix for suffix in suffixes.get(kind, ("",)))
    return names


def test_scrape_jobs_reach_both_services_and_the_dashboard_uses_their_metrics(deployment):
    scrape = yaml.safe_load((deployment.config_dir / "monitoring/prometheus-scrape.yml")
                            .read_text())
    exposed = set()
    token = (deployment.secrets_dir / "prometheus_token").read_text().strip()
    for job in scrape["scrape_configs"]:
        assert "credentials_file" in job["authorization"], job["job_name"]
        for target in job["static_configs"][0]["targets"]:
            url = f"http://{target}{job['metrics_path']}"
            assert requests.get(url, timeout=30).status_code in (401, 403), job["job_name"]
            answer = requests.get(url, headers={"Authorization": f"Bearer {token}"},
                                  timeout=30)
            assert answer.status_code == 200, job["job_name"]
            exposed |= metric_names(answer.text)
    assert {"grader_jobs_current", "jupyterhub_running_servers"} <= exposed
    dashboard = json.loads((deployment.config_dir / "monitoring/grafana-dashboard.json")
                           .read_text())
    used = {name for panel in dashboard["panels"] for target in panel.get("targets", [])
            for name in re.findall(r"\b((?:grader|jupyterhub)_[a-z_]+)\b", target["expr"])}
    assert used and used <= exposed, used - exposed
    # the alerting rules select the scrape jobs by these names
    jobs = [job["job_name"] for job in scrape["scrape_configs"]]
    assert any(re.fullmatch(r".+-grader", j) for j in jobs), jobs
    assert any(re.fullmatch(r"(.+-)?hub", j) for j in jobs), jobs
    rules = yaml.safe_load((deployment.config_dir / "monitoring/alert-rules.yml").read_text())
    assert "DlcourseGraderDown" in {r["alert"] for g in rules["groups"] for r in g["rules"]}


def test_backup_units_pass_systemd_analyze(deployment):
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed (Debian package systemd)")
    units = sorted(str(p) for p in (deployment.root / "systemd").iterdir())
    assert [Path(u).name for u in units] == [f"{PROJECT}-backup.service",
                                             f"{PROJECT}-backup.timer"]
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


# --- idempotence --------------------------------------------------------------------------------
def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_second_run_changes_nothing_and_keeps_the_secrets(deployment, docker_client):
    secrets_before = digests(deployment.secrets_dir)
    containers_before = {c.name: c.id for c in docker_client.containers.list(
        filters={"label": f"dlcourse.project={PROJECT}"})}
    second = deployment.run("second_run", "site.yml")
    assert second.returncode == 0, second.tail()
    assert second.recap["failed"] == 0
    assert second.recap["changed"] == 0, f"changed: {second.changed_tasks()}"
    assert digests(deployment.secrets_dir) == secrets_before
    containers_after = {c.name: c.id for c in docker_client.containers.list(
        filters={"label": f"dlcourse.project={PROJECT}"})}
    assert containers_after == containers_before and len(containers_after) == 3


# --- a redeploy during class -------------------------------------------------------------------
KERNEL_SETUP = """
import threading, time
answer = 41
ticks, longest_pause = [0], [0.0]
def tick():
    last = time.monotonic()
    while True:
        time.sleep(0.1)
        now = time.monotonic()
        ticks[0], longest_pause[0] = ticks[0] + 1, max(longest_pause[0], now - last)
        last = now
threading.Thread(target=tick, daemon=True).start()
"""


def spawn_and_wait(deployment, name: str, timeout: float = 180) -> str:
    """Start ``name``'s server through the REST API; return a token for it once the
    server answers through nginx and the proxy."""
    assert deployment.ops("POST", f"/users/{name}/server").status_code in (201, 202, 400)
    token = deployment.ops("POST", f"/users/{name}/tokens",
                           json={"note": "redeploy test", "expires_in": 3600}).json()["token"]
    wait_until_answers(deployment, name, token, timeout)
    return token


def wait_until_answers(deployment, name: str, token: str, timeout: float) -> float:
    """Seconds until ``/user/<name>/api/status`` answers 200 through nginx and the proxy."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(requests.RequestException):
            answer = deployment.session().get(
                f"{deployment.url}/user/{name}/api/status", timeout=10,
                headers={"Authorization": f"token {token}"})
            if answer.status_code == 200:
                return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"{name}'s server does not answer"
        time.sleep(0.5)


class StatusPoller:
    """Asks the student's server for ``/api/status`` through nginx and the proxy every
    0.2 s in a thread, as an open JupyterLab does; records what failed and for how long."""

    def __init__(self, deployment, name: str, token: str):
        import threading

        self.url = f"{deployment.url}/user/{name}/api/status"
        self.session = deployment.session()
        self.session.headers["Authorization"] = f"token {token}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.polls, self.failures, self.longest_outage = 0, [], 0.0

    def _poll(self):
        down_since = None
        while not self.stopped.wait(0.2):
            self.polls += 1
            try:
                answer = self.session.get(self.url, timeout=5)
                failure = None if answer.status_code == 200 else f"HTTP {answer.status_code}"
            except requests.RequestException as e:
                failure = type(e).__name__
            now = time.monotonic()
            if failure is None:
                down_since = None
                continue
            self.failures.append(failure)
            down_since = down_since or now
            self.longest_outage = max(self.longest_outage, now - down_since)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(10)


def test_a_redeploy_with_a_changed_hub_setting_keeps_the_students_kernel_computing(
        deployment, docker_client):
    """Ops change a hub setting and run site.yml in the middle of class: the hub restarts
    (config.d is read at start), while the student's server, its kernel, the kernel's
    variables and a computation running in it carry on (cleanup_servers = False), and the
    student's requests all get through (the proxy in its own container keeps the route)."""
    from tests.e2e.support.kernel import execute, start_kernel

    name = "student1"  # logged in above: the hub has the roll number for the spawn
    token = spawn_and_wait(deployment, name)
    server_url = f"{deployment.url}/user/{name}"
    kernel = start_kernel(server_url, token, verify=deployment.cacert)
    setup = execute(server_url, token, KERNEL_SETUP, kernel_id=kernel, verify=deployment.cacert)
    assert setup.error is None, setup.error
    hub = docker_client.containers.get(f"{PROJECT}-hub")
    student = docker_client.containers.get(f"{PROJECT}-user-{name}")
    hub_started, student_started = hub.attrs["State"]["StartedAt"], \
        student.attrs["State"]["StartedAt"]
    config_d = deployment.config_dir / "hub" / "config.d" / "50-ansible.py"
    assert "c.Spawner.start_timeout = 120" in config_d.read_text()
    before = time.monotonic()

    with StatusPoller(deployment, name, token) as poller:
        redeploy = deployment.run("redeploy_run", "site.yml",
                                  "-e", "dlcourse_hub_start_timeout=150")
    TIMINGS["redeploy_student_polls"] = poller.polls
    TIMINGS["redeploy_student_failed_polls"] = len(poller.failures)
    TIMINGS["redeploy_student_longest_outage_seconds"] = round(poller.longest_outage, 1)
    # the proxy, in its own container, kept the route while the hub restarted
    assert poller.polls > 50 and poller.failures == [], poller.failures
    assert redeploy.returncode == 0 and redeploy.recap["failed"] == 0, redeploy.tail()
    assert "c.Spawner.start_timeout = 150" in config_d.read_text()
    assert "RUNNING HANDLER [stack : Restart JupyterHub]" in redeploy.output
    hub.reload()
    assert hub.attrs["State"]["StartedAt"] != hub_started  # the hub did restart
    TIMINGS["redeploy_proxy_back_seconds"] = round(
        wait_until_answers(deployment, name, token, 120), 1)

    student.reload()
    assert student.attrs["State"]["StartedAt"] == student_started  # the same server
    after = execute(server_url, token, "print(answer + 1, ticks[0], longest_pause[0])",
                    kernel_id=kernel, verify=deployment.cacert)
    assert after.error is None, after.error
    value, ticks, pause = after.stdout.split()
    assert value == "42"
    # the computation ran all through the redeploy: ticks at ~10/s, never held up long
    assert int(ticks) >= 5 * (time.monotonic() - before), (ticks, time.monotonic() - before)
    assert float(pause) < 5, pause
    kernels = deployment.session().get(f"{server_url}/api/kernels", timeout=30,
                                       headers={"Authorization": f"token {token}"}).json()
    assert kernel in {k["id"] for k in kernels}
    assert deployment.ops("DELETE", f"/users/{name}/server").status_code in (202, 204)


# --- backup and restore ---------------------------------------------------------------------------
def run_backup(deployment) -> Path:
    started = time.monotonic()
    result = subprocess.run([str(deployment.root / "sbin" / "backup")], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    TIMINGS["backup_seconds"] = round(time.monotonic() - started, 1)
    return Path(result.stdout.strip().splitlines()[-1])


def integrity(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_backup_then_restore_brings_deleted_databases_back(deployment, docker_client):
    assert deployment.ops("POST", "/users/alice").status_code == 201
    backups = [run_backup(deployment) for _ in range(3)]
    assert len({b.name for b in backups}) == 3, backups  # runs within one second stay apart
    # retention: dlcourse_backup_keep=2 keeps the two newest
    kept = sorted(p.name for p in deployment.backup_dir.iterdir() if p.is_dir())
    assert kept == sorted(b.name for b in backups[1:])
    backup = backups[-1]
    for db in ("hub/jupyterhub.sqlite", "grader/grader.sqlite"):
        assert integrity(backup / db) == "ok", db
    assert (backup / "secrets.tar").exists() and (backup / "grader" / "files.tar").exists()
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=backup,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # homes by default; the second copy of each backup left the host encrypted only
    assert list((backup / "homes").glob(f"{PROJECT}-home-*.tar.gz"))
    copies = {p.name for p in (deployment.root / "offsite").iterdir()}
    assert {f"{b.name}.tar.age" for b in backups} <= copies, copies
    token = (deployment.secrets_dir / "ops_api_token").read_bytes().strip()
    for copy in (deployment.root / "offsite").iterdir():
        data = copy.read_bytes()
        assert data.startswith(b"age-encryption.org/v1\n-> ssh-ed25519 ")
        assert token not in data and b"SQLite format 3" not in data

    # disaster: both databases deleted under the running services
    docker_client.containers.get(f"{PROJECT}-hub").exec_run(
        ["sh", "-c", "rm -f /srv/jupyterhub/jupyterhub.sqlite*"], user="root")
    docker_client.containers.get(f"{PROJECT}-grader").exec_run(
        ["sh", "-c", "rm -f /srv/grader/grader.sqlite*"], user="root")

    restore = deployment.run("restore_run", "restore.yml",
                             "-e", f"dlcourse_restore_backup={backup.name}")
    assert restore.returncode == 0 and restore.recap["failed"] == 0, restore.tail()

    user = deployment.ops("GET", "/users/alice")
    assert user.status_code == 200 and user.json()["name"] == "alice"
    assert requests.get(f"http://127.0.0.1:{deployment.ports['grader']}/health",
                        timeout=30).status_code == 200
    for container, db in ((f"{PROJECT}-hub", "/srv/jupyterhub/jupyterhub.sqlite"),
                          (f"{PROJECT}-grader", "/srv/grader/grader.sqlite")):
        code, out = docker_client.containers.get(container).exec_run(
            ["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
             ".execute('PRAGMA integrity_check').fetchone()[0])", db])
        assert (code, out.decode().strip()) == (0, "ok"), (container, out)


def forged_copy(deployment, name: str) -> Path:
    """An archive anyone can make (the recipients are public keys): a link out of the
    backup folder, encrypted to the recipient, as it might be planted on the target."""
    staging = deployment.root / "forgery"
    (staging / name).mkdir(parents=True)
    (staging / name / "secrets.tar").symlink_to("/etc/shadow")
    recipient = backup_recipient(deployment.root / "forgery")
    subprocess.run(["tar", "-C", str(staging), "-cf", str(staging / "forged.tar"), name],
                   check=True)
    forged = deployment.root / "offsite" / f"{name}.tar.age"
    subprocess.run(["age", "--encrypt", "--recipient", recipient, "--output", str(forged),
                    str(staging / "forged.tar")], check=True)
    (deployment.root / "forgery" / "backup-identity").replace(deployment.root / "forged-key")
    return forged


def test_restore_from_the_encrypted_copy_alone(deployment, docker_client):
    """The VM's backups are gone: the off-host copy and the private key bring the hub
    back. An archive planted on the target is refused before anything is unpacked."""
    assert deployment.ops("POST", "/users/bob").status_code == 201
    backup = run_backup(deployment)
    copy = deployment.root / "offsite" / f"{backup.name}.tar.age"
    for old in deployment.backup_dir.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    assert deployment.ops("DELETE", "/users/bob").status_code == 204

    restore = deployment.run("restore_encrypted_run", "restore.yml",
                             "-e", f"dlcourse_restore_backup={copy}",
                             "-e", f"dlcourse_restore_identity={deployment.root / 'backup-identity'}")
    assert restore.returncode == 0 and restore.recap["failed"] == 0, restore.tail()
    user = deployment.ops("GET", "/users/bob")
    assert user.status_code == 200 and user.json()["name"] == "bob"
    assert (deployment.backup_dir / backup.name / "SHA256SUMS").exists()

    forged = forged_copy(deployment, "20990101T000000Z")
    refused = subprocess.run([str(deployment.root / "sbin" / "restore"), "--yes",
                              "--identity", str(deployment.root / "forged-key"), str(forged)],
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0 and "refused: '20990101T000000Z/secrets.tar'" in refused.stderr
    assert not (deployment.backup_dir / "20990101T000000Z").exists()
    assert not list(deployment.backup_dir.glob(".decrypted-*"))
    assert deployment.ops("GET", "/users/bob").status_code == 200  # nothing was touched
    forged.unlink()


def backup_metrics(deployment) -> dict[str, float]:
    """The samples of the metrics file the backup script left for the node exporter."""
    text = (deployment.root / "textfile" / f"{PROJECT}-backup.prom").read_text()
    samples = re.findall(r'^(\w+)\{project="' + re.escape(PROJECT) + r'"\} (\S+)$', text,
                         re.MULTILINE)
    return {name: float(value) for name, value in samples}


def test_each_backup_run_reports_to_the_alerts_good_or_failed(deployment, docker_client):
    """The metrics the backup alerts read: a good run sets success and the time of the
    newest good backup; a failed run (the hub container is away) sets success 0 and
    keeps that time, so DlcourseBackupFailed fires now and DlcourseBackupStale a day on."""
    run_backup(deployment)
    good = backup_metrics(deployment)
    assert good["dlcourse_backup_last_run_success"] == 1
    assert abs(good["dlcourse_backup_last_success_timestamp_seconds"] - time.time()) < 120
    assert good["dlcourse_backup_last_size_bytes"] > 10_000
    rules = yaml.safe_load((REPO / "ansible/roles/monitoring/files/host-alert-rules.yml")
                           .read_text())
    used = {name for group in rules["groups"] for rule in group["rules"]
            for name in re.findall(r"\bdlcourse_backup_\w+", rule["expr"])}
    assert used and used <= set(good), used - set(good)

    hub = docker_client.containers.get(f"{PROJECT}-hub")
    hub.rename(f"{PROJECT}-hub-away")
    try:
        failed = subprocess.run([str(deployment.root / "sbin" / "backup")],
                                capture_output=True, text=True, timeout=300, check=False)
    finally:
        hub.rename(f"{PROJECT}-hub")
    assert failed.returncode != 0
    after = backup_metrics(deployment)
    assert after["dlcourse_backup_last_run_success"] == 0
    assert after["dlcourse_backup_last_success_timestamp_seconds"] == \
        good["dlcourse_backup_last_success_timestamp_seconds"]
    assert after["dlcourse_backup_last_run_timestamp_seconds"] >= \
        good["dlcourse_backup_last_run_timestamp_seconds"]
    assert not list(deployment.backup_dir.glob(".partial-*"))  # nothing half-made is left


# --- certificates from an ACME CA (last: the hub's certificate changes) ------------------------
def served_certificate(deployment) -> x509.Certificate:
    pem = ssl.get_server_certificate(("127.0.0.1", deployment.ports["https"]), timeout=10)
    return x509.load_pem_x509_certificate(pem.encode())


def test_acme_certificate_is_obtained_through_the_site_and_renewed(deployment, tmp_path):
    """The tls role's acme source against Pebble (an ACME server that checks every
    HTTP-01 challenge for real, through nginx's port 80 here): the first run obtains a
    certificate that nginx serves, a second run changes nothing, and the renewal unit's
    command with --force-renewal installs a new one through the deploy hook, which
    nginx serves without a restart."""
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed (Debian package systemd)")
    units = deployment.root / "systemd-tls"
    with pebble_ca(tmp_path, deployment.ports["http"]) as ca:
        settings = tmp_path / "acme.yml"
        settings.write_text(yaml.safe_dump({
            "dlcourse_tls_certificate_source": "acme",
            "dlcourse_tls_acme_server": ca.directory_url,
            "dlcourse_tls_acme_ca_bundle": str(ca.ca_bundle),
            "dlcourse_tls_acme_email": "ops@example.edu",
            "dlcourse_tls_acme_config_dir": str(deployment.root / "letsencrypt"),
            "dlcourse_tls_acme_work_dir": str(deployment.root / "letsencrypt-work"),
            "dlcourse_tls_acme_logs_dir": str(deployment.root / "letsencrypt-logs"),
            "dlcourse_tls_acme_deploy_hook": str(deployment.root / "sbin" / "cert-deployed"),
            "dlcourse_tls_acme_timer_enabled": False,
            "dlcourse_tls_systemd_dir": str(units),
        }))
        units.mkdir()
        before = served_certificate(deployment)
        first = deployment.run("acme_first_run", "site.yml", "--tags", "tls", "-e", f"@{settings}")
        assert first.returncode == 0 and first.recap["failed"] == 0, first.tail()
        issued = served_certificate(deployment)
        assert issued.serial_number != before.serial_number
        issued.verify_directly_issued_by(ca.intermediate())  # signed by the ACME CA
        names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]

        second = deployment.run("acme_second_run", "site.yml", "--tags", "tls",
                                "-e", f"@{settings}")
        assert second.returncode == 0 and second.recap["changed"] == 0, \
            f"changed: {second.changed_tasks()}"

        service = (units / f"{PROJECT}-certificate-renewal.service").read_text()
        command = re.search(r"^ExecStart=(.+)$", service, re.MULTILINE).group(1).split()
        environment = dict(re.findall(r"^Environment=(\w+)=(.+)$", service, re.MULTILINE))
        assert environment == {"REQUESTS_CA_BUNDLE": str(ca.ca_bundle)}
        renewed = subprocess.run([*command, "--force-renewal"], capture_output=True, text=True,
                                 timeout=300, check=False,
                                 env={**os.environ, **environment})
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        deadline = time.monotonic() + 20  # the reload lets old workers finish first
        while (current := served_certificate(deployment)).serial_number == issued.serial_number:
            assert time.monotonic() < deadline, "nginx still serves the first certificate"
            time.sleep(0.5)
        current.verify_directly_issued_by(ca.intermediate())
    verify = subprocess.run([analyze, "verify", *sorted(str(p) for p in units.iterdir())],
                            capture_output=True, text=True, timeout=60, check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
