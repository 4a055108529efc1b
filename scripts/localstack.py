"""Run the whole course stack on one Docker host: demo IdP, grading service, JupyterHub.

Used by ``make demo`` / ``make down`` and by the end-to-end tests, so both exercise
the same wiring. Each stack is named by a *project* (``dlcourse`` for the demo,
``dlcourse-e2e`` for tests); every container, volume and network it creates carries
that name, so two stacks can live side by side.

Two networks: ``<project>-net`` holds the hub and the grading service (and reaches the
IdP and the LMS); ``<project>-students`` holds the student servers and, besides them,
only the hub and the grading service. It is ``internal`` (no route out) and its bridge
has no address on the host (``inhibit_ipv4``), so a student's code reaches the hub's
ports and the grading service, and nothing else: no other container, no service of the
host (the IdP here), no internet.

    python -m scripts.localstack up [--project NAME] [--hub-port 8000] [--idp-port 9000]
    python -m scripts.localstack down [--project NAME] [--volumes]
    python -m scripts.localstack status [--project NAME]

The demo IdP (``hub/demo-idp``, Node) runs on the host, bound to the project
network's gateway address: the browser and the hub container both reach it there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests

from scripts.demo_idp import DEMO_PASSWORD, launch_demo_idp

REPO = Path(__file__).resolve().parent.parent
IDP_DIR = REPO / "hub" / "demo-idp"
OIDC_CLIENT_ID = "jupyterhub"
#: whom the demo's students are told to ask (the hub's error pages show it)
DEMO_CONTACT = "the course staff of dl101 (demo: dl101-staff@example.edu)"


@dataclass
class StackConfig:
    """Names, ports and images of one local stack."""

    project: str = "dlcourse"
    hub_port: int = 8000
    idp_port: int = 9000
    course_ids: str = "dl101"
    hub_image: str = "dlcourse/hub:latest"
    singleuser_image: str = "dlcourse/singleuser:latest"
    grader_image: str = "dlcourse/grader:latest"
    sandbox_image: str = "dlcourse/sandbox:latest"
    state_root: Path = field(default_factory=lambda: REPO / ".stack")
    # more settings for the grading service (e.g. GRADER_EXPORTERS and an LMS's URLs)
    grader_env: dict[str, str] = field(default_factory=dict)
    # memory (and memory+swap) of the grading service container: uploads unpack there
    grader_memory: str = "2g"
    # the IdP's accounts (default: hub/demo-idp/users.json; benchmarks make their own)
    users_file: Path | None = None
    # more settings for the hub (e.g. spawn limits a benchmark compares)
    hub_env: dict[str, str] = field(default_factory=dict)
    # a folder of hub config files, mounted read-only as the hub's config.d (loaded last)
    hub_config_d: Path | None = None

    @property
    def network(self) -> str:
        return f"{self.project}-net"

    @property
    def students_network(self) -> str:
        """The student servers' network: only the hub and the grading service join them."""
        return f"{self.project}-students"

    @property
    def hub_container(self) -> str:
        return f"{self.project}-hub"

    @property
    def grader_container(self) -> str:
        return f"{self.project}-grader"

    @property
    def state_dir(self) -> Path:
        return self.state_root / self.project

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"


def load_or_create_secrets(state_dir: Path) -> dict[str, str]:
    """Secrets of one stack, generated once and kept (mode 0600) so restarts reuse them."""
    path = state_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    state_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "crypt_key": secrets.token_hex(32),
        "grader_api_token": secrets.token_hex(24),
        "ops_api_token": secrets.token_hex(24),
        "oidc_client_secret": secrets.token_hex(24),
        "idp_cookie_key": secrets.token_hex(24),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    return values


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) != 0


def wait_for_http(url: str, timeout: float, what: str) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took."""
    start = time.monotonic()
    last_error = None
    while time.monotonic() - start < timeout:
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return time.monotonic() - start
        except requests.RequestException as e:
            last_error = e
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout:.0f}s: {last_error}")


class LocalStack:
    """Start, inspect and stop one project's containers, network, volumes and IdP."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.docker = docker.from_env()
        self.secrets = load_or_create_secrets(config.state_dir)

    # --- networks and IdP --------------------------------------------------------------
    def _network(self, name: str, **kwargs):
        """The bridge network ``name``, created with ``kwargs`` if missing."""
        nets = [n for n in self.docker.networks.list(names=[name]) if n.name == name]
        net = nets[0] if nets else self.docker.networks.create(
            name, driver="bridge", labels={"dlcourse.project": self.config.project}, **kwargs)
        net.reload()
        return net

    def ensure_network(self) -> str:
        """Create both project networks if needed; return the main one's gateway address."""
        self._network(self.config.students_network, internal=True,
                      options={"com.docker.network.bridge.inhibit_ipv4": "true"})
        return self._network(self.config.network).attrs["IPAM"]["Config"][0]["Gateway"]

    def idp_issuer(self, gateway: str) -> str:
        return f"http://{gateway}:{self.config.idp_port}"

    def start_idp(self, gateway: str) -> None:
        """Run the demo IdP on the host, detached (pid file in the state dir)."""
        cfg = self.config
        pid_file = cfg.state_dir / "idp.pid"
        if pid_file.exists() and self._pid_alive(int(pid_file.read_text())):
            return
        if not port_is_free(gateway, cfg.idp_port):
            raise RuntimeError(f"port {cfg.idp_port} on {gateway} is taken; pick --idp-port")
        redirect_uris = [f"http://{host}:{cfg.hub_port}/hub/oauth_callback"
                         for host in ("127.0.0.1", "localhost")]
        idp = launch_demo_idp(
            cfg.idp_port, self.idp_issuer(gateway), OIDC_CLIENT_ID,
            self.secrets["oidc_client_secret"], redirect_uris, gateway,
            cookie_keys=[self.secrets["idp_cookie_key"]], log_path=cfg.state_dir / "idp.log",
            users_file=cfg.users_file)
        pid_file.write_text(str(idp.process.pid))

    @staticmethod
    def _pid_alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def stop_idp(self) -> None:
        pid_file = self.config.state_dir / "idp.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        if self._pid_alive(pid):
            os.killpg(pid, signal.SIGTERM)
        pid_file.unlink()

    # --- containers ----------------------------------------------------------------------
    def _run(self, name: str, image: str, **kwargs):
        """(Re)create container ``name`` (the hub or the grading service) on both project
        networks, then start it."""
        self._remove_container(name)
        container = self.docker.containers.create(
            image, name=name, network=self.config.network,
            labels={"dlcourse.project": self.config.project},
            restart_policy={"Name": "unless-stopped"}, **kwargs)
        self.docker.networks.get(self.config.students_network).connect(container)
        container.start()
        return container

    def _remove_container(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.docker.containers.get(name).remove(force=True)

    def _stop_grader(self) -> None:
        """Stop the grading service as Docker would (SIGTERM: it removes the sandboxes it
        keeps started), then remove any of its sandboxes a hard kill would have left."""
        try:
            grader = self.docker.containers.get(self.config.grader_container)
        except docker.errors.NotFound:
            return
        hostname = grader.attrs["Config"]["Hostname"]
        with contextlib.suppress(docker.errors.APIError):
            grader.stop(timeout=20)
        for sandbox in self.docker.containers.list(
                all=True, filters={"label": "dlcourse.role=grading-sandbox"}):
            if sandbox.labels.get("dlcourse.sandbox-owner", "").startswith(f"{hostname}:"):
                with contextlib.suppress(docker.errors.NotFound):
                    sandbox.remove(force=True)

    def start_grader(self) -> None:
        cfg = self.config
        self._run(
            cfg.grader_container, cfg.grader_image,
            environment={
                "JUPYTERHUB_API_URL": f"http://{cfg.hub_container}:8081/hub/api",
                "JUPYTERHUB_API_TOKEN": self.secrets["grader_api_token"],
                "JUPYTERHUB_SERVICE_PREFIX": "/services/grader/",
                "GRADER_DATA_DIR": "/srv/grader",
                "GRADER_RUNNER": "docker",
                "GRADER_SANDBOX_IMAGE": cfg.sandbox_image,
                **cfg.grader_env,
            },
            volumes={
                f"{cfg.project}-grader-data": {"bind": "/srv/grader", "mode": "rw"},
                "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            },
            mem_limit=cfg.grader_memory, memswap_limit=cfg.grader_memory,
        )

    def hub_environment(self, gateway: str) -> dict[str, str]:
        cfg = self.config
        issuer = self.idp_issuer(gateway)
        return {
            "OIDC_AUTHORIZE_URL": f"{issuer}/auth",
            "OIDC_TOKEN_URL": f"{issuer}/token",
            "OIDC_USERDATA_URL": f"{issuer}/me",
            "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
            "OIDC_CLIENT_SECRET": self.secrets["oidc_client_secret"],
            "OAUTH_CALLBACK_URL": f"{cfg.hub_url}/hub/oauth_callback",
            "JUPYTERHUB_CRYPT_KEY": self.secrets["crypt_key"],
            "DOCKER_NETWORK_NAME": cfg.students_network,
            "SINGLEUSER_IMAGE": cfg.singleuser_image,
            "HUB_CONNECT_HOST": cfg.hub_container,
            "USER_CONTAINER_PREFIX": cfg.project,
            "GRADER_SERVICE_URL": f"http://{cfg.grader_container}:5000",
            "GRADER_SERVICE_API_TOKEN": self.secrets["grader_api_token"],
            "HUB_OPS_API_TOKEN": self.secrets["ops_api_token"],
            "COURSE_IDS": cfg.course_ids,
            "COURSE_CONTACT": DEMO_CONTACT,
            **cfg.hub_env,
        }

    def start_hub(self, gateway: str) -> float:
        cfg = self.config
        self._remove_container(cfg.hub_container)  # a re-run of `up` replaces our own hub
        if not port_is_free("127.0.0.1", cfg.hub_port):
            raise RuntimeError(f"port {cfg.hub_port} is taken; pick --hub-port")
        self._run(
            cfg.hub_container, cfg.hub_image,
            environment=self.hub_environment(gateway),
            ports={"8000/tcp": ("127.0.0.1", cfg.hub_port)},
            volumes={
                f"{cfg.project}-hub-data": {"bind": "/srv/jupyterhub", "mode": "rw"},
                "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
                **({str(cfg.hub_config_d): {"bind": "/etc/jupyterhub/config.d", "mode": "ro"}}
                   if cfg.hub_config_d else {}),
            },
        )
        return wait_for_http(f"{cfg.hub_url}/hub/health", 120, "JupyterHub")

    # --- whole stack ---------------------------------------------------------------------
    def up(self) -> dict:
        """Bring everything up (idempotent); return the addresses a user needs."""
        gateway = self.ensure_network()
        self.start_idp(gateway)
        self.start_grader()
        hub_seconds = self.start_hub(gateway)
        return {"hub_url": self.config.hub_url, "idp_issuer": self.idp_issuer(gateway),
                "hub_start_seconds": round(hub_seconds, 1)}

    def user_containers(self):
        return self.docker.containers.list(
            all=True, filters={"name": f"{self.config.project}-user-"})

    def down(self, remove_volumes: bool = False) -> None:
        """Stop and remove the project's containers, networks and IdP (volumes on request)."""
        cfg = self.config
        for container in self.user_containers():
            container.remove(force=True)
        self._stop_grader()
        for name in (cfg.hub_container, cfg.grader_container):
            self._remove_container(name)
        self.stop_idp()
        for net in self.docker.networks.list(names=[cfg.network, cfg.students_network]):
            if net.name in (cfg.network, cfg.students_network):
                net.remove()
        if remove_volumes:
            for vol in self.docker.volumes.list():
                if vol.name.startswith(f"{cfg.project}-"):
                    vol.remove(force=True)

    def status(self) -> dict[str, str]:
        names = [self.config.hub_container, self.config.grader_container]
        names += [c.name for c in self.user_containers()]
        result = {}
        for name in names:
            try:
                result[name] = self.docker.containers.get(name).status
            except docker.errors.NotFound:
                result[name] = "absent"
        return result


def demo_accounts() -> list[dict]:
    """The demo IdP's accounts, for printing after ``up``."""
    return json.loads((IDP_DIR / "users.json").read_text())["users"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.localstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--project", default="dlcourse")
    parser.add_argument("--hub-port", type=int, default=8000)
    parser.add_argument("--idp-port", type=int, default=9000)
    parser.add_argument("--volumes", action="store_true", help="down: also delete volumes")
    parser.add_argument("--release", metavar="ASSIGNMENT", default="",
                        help="up: then release this assignment of the built course as "
                             "instructor1 (make demo: m01_foundations)")
    args = parser.parse_args(argv)
    stack = LocalStack(StackConfig(project=args.project, hub_port=args.hub_port,
                                   idp_port=args.idp_port))
    if args.command == "up":
        info = stack.up()
        if args.release:
            from scripts.demo_release import release

            course = stack.config.course_ids.split(",")[0]
            release(info["hub_url"], stack.secrets["ops_api_token"], args.release, course)
            print(f"released {course}/{args.release}: students find it in the Assignments tab")
        print(f"\nJupyterHub is up at {info['hub_url']}  (IdP: {info['idp_issuer']})")
        print(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for user in demo_accounts():
            print(f"  {user.get('username', '?'):<12} roll number {user.get('roll_number', '-')}"
                  f"  groups {', '.join(user.get('groups', []))}")
        print("Stop it with: make down")
    elif args.command == "down":
        stack.down(remove_volumes=args.volumes)
    else:
        for name, state in stack.status().items():
            print(f"{name:<40} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
