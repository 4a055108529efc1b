"""The docker role's daemon.json keeps student servers running while the engine restarts.

A second Docker engine of its own (own data root, exec root, socket, and its own network
namespace: an engine without a bridge deletes ``docker0``, so on the host's network it
would cut the shared engine's containers off) is started with
the ``daemon.json`` the role renders. A container runs, the engine is stopped (SIGTERM,
as ``systemctl restart docker`` does) and started again: with the role's live-restore the
container's process never stops and the new engine adopts it; without (the control) the
engine's stop ends it. The image is a few host binaries imported as a root filesystem, so
nothing is pulled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from tests.ansible.ansible_testing import run_role_tasks
from tests.conftest import require

pytestmark = [pytest.mark.docker]

SLEEP_BINARY = "/usr/bin/sleep"


def tiny_image_archive(path: Path) -> Path:
    """A root filesystem holding ``sleep`` and the libraries it loads (``ldd``)."""
    libraries = subprocess.run(["ldd", SLEEP_BINARY], capture_output=True, text=True,
                               check=True).stdout
    files = [SLEEP_BINARY] + [word for line in libraries.splitlines()
                              for word in line.split() if word.startswith("/")]
    with tarfile.open(path, "w") as tar:
        for name in files:
            tar.add(os.path.realpath(name), arcname=name.lstrip("/"))
    return path


class Engine:
    """A dockerd of the test's own, started and stopped like the host's service."""

    def __init__(self, root: Path, config_file: Path):
        self.root, self.config_file = root, config_file
        self.socket = f"unix://{root}/docker.sock"
        self.proc = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 - closed with the engine
        self.proc = subprocess.Popen(
            ["unshare", "--net", "dockerd", "--config-file", str(self.config_file),
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "--host", self.socket,
             "--bridge=none", "--iptables=false", "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while self.cli("version", check=False).returncode != 0:
            assert self.proc.poll() is None, self.log_tail()
            assert time.monotonic() < deadline, self.log_tail()
            time.sleep(0.3)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, as ``systemctl stop docker`` sends it; wait for the engine to exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "--host", self.socket, *args], capture_output=True,
                              text=True, timeout=120, check=check)

    def log_tail(self) -> str:
        return (self.root / "dockerd.log").read_text()[-3000:]


def host_interfaces() -> set[str]:
    """The host's network interfaces but the containers' veth pairs, which come and go."""
    return {path.name for path in Path("/sys/class/net").iterdir()
            if not path.name.startswith("veth")}


def process_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def engine_root():
    require(shutil.which("dockerd") is not None, "dockerd is not installed (docker.io)")
    interfaces_before = host_interfaces()
    # short: the engine's sockets live under it (108 bytes at most for a socket path)
    root = Path(tempfile.mkdtemp(prefix="live-restore-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)
    # the shared engine's bridge (docker0) and every other host interface are still there
    assert interfaces_before <= host_interfaces()


@pytest.mark.parametrize("live_restore", [True, False], ids=["role-default", "control-off"])
def test_a_container_outlives_an_engine_restart_with_the_roles_daemon_json(
        engine_root, tmp_path, live_restore):
    daemon_json = engine_root / "daemon.json"
    overrides = {} if live_restore else {"dlcourse_docker_live_restore": False}
    run_role_tasks(tmp_path, "docker", "daemon", ["dlcourse_docker_restart_needed"],
                   dlcourse_docker_daemon_json=str(daemon_json), **overrides)
    assert json.loads(daemon_json.read_text())["live-restore"] is live_restore

    engine = Engine(engine_root, daemon_json)
    engine.start()
    try:
        engine.cli("import", str(tiny_image_archive(engine_root / "tiny.tar")), "tiny:1")
        engine.cli("run", "--detach", "--name", "student-server", "--network", "none",
                   "tiny:1", SLEEP_BINARY, "600")
        pid = int(engine.cli("inspect", "-f", "{{.State.Pid}}", "student-server")
                  .stdout.strip())
        assert process_running(pid)

        engine.stop()  # `systemctl restart docker`: first the stop ...
        time.sleep(1)
        assert process_running(pid) is live_restore, engine.log_tail()
        engine.start()  # ... then the start
        state = json.loads(engine.cli("inspect", "-f", "{{json .State}}",
                                      "student-server").stdout)
        if live_restore:
            assert state["Running"] and state["Pid"] == pid, state  # adopted, not restarted
            assert process_running(pid)
        else:
            assert not state["Running"], state
    finally:
        with contextlib.suppress(Exception):
            engine.cli("rm", "--force", "student-server", check=False)
        engine.stop()
