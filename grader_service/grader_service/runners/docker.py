"""Run the autograder in a fresh, locked-down Docker container per job.

The input bundle is streamed over the container's stdin (a read-only root has no
place to ``put_archive`` into before start); stdout is read from the same attach
socket, capped, and parsed as JSON only. The container is always removed.
"""

import contextlib
import socket
import struct
import time

from ..metrics import Outcome
from ..sandbox_protocol import (
    CHECKER_HOME,
    CHECKER_UID,
    SANDBOX_CAPABILITIES,
    STUDENT_HOME,
    STUDENT_UID,
    identity_args,
)
from .base import Runner, RunResult, parse_output, stop_when
from .seccomp import profile_digest, sandbox_profile_json

STDOUT, STDERR = 1, 2
STDERR_TAIL = 16 * 1024


class SandboxTimeout(Exception):
    pass


class DockerRunner(Runner):
    """Fresh container from ``image``: no network, memory == swap, CPU and pid limits,
    read-only root with small tmpfs for /tmp and the two homes, no-new-privileges, a
    seccomp profile without ptrace, wall-clock timeout, capped stdout, no log file on
    the host. It starts as root with only SETUID/SETGID/KILL; the autograder (PID 1)
    drops to the checker uid at once and runs the student's code as the student uid
    (see ``grader_service.sandbox_protocol``)."""

    name = "docker"
    #: tmpfs mounts: size and (owner uid, mode). /tmp is shared, sticky, like any /tmp.
    tmpfs_mounts = {"/tmp": ("256m", 0, "1777"),
                    CHECKER_HOME: ("64m", CHECKER_UID, "0700"),
                    STUDENT_HOME: ("64m", STUDENT_UID, "0700")}

    def __init__(self, limits, image="dlcourse/sandbox:latest", client=None):
        super().__init__(limits)
        self.image = image
        self._client = client

    @classmethod
    def from_config(cls, config):
        runner = super().from_config(config)
        runner.image = config["SANDBOX_IMAGE"]
        return runner

    @property
    def client(self):
        if self._client is None:
            import docker

            self._client = docker.from_env()
        return self._client

    def container_options(self):
        """Everything passed to ``containers.create`` (the security posture, in one place)."""
        import docker

        tmpfs = {path: f"rw,nosuid,nodev,size={size},uid={uid},gid={uid},mode={mode}"
                 for path, (size, uid, mode) in self.tmpfs_mounts.items()}
        return dict(
            image=self.image,
            # the image's ENTRYPOINT is `python -I -m grader_service.autograde`
            command=["--workdir", f"{CHECKER_HOME}/work", *self.limits.autograde_args(),
                     *identity_args(), "--student-home", STUDENT_HOME],
            user="0:0",  # only to drop to the two uids; see SANDBOX_CAPABILITIES
            environment={"HOME": CHECKER_HOME},
            working_dir=CHECKER_HOME,
            stdin_open=True,
            network_mode="none",
            mem_limit=self.limits.memory,
            memswap_limit=self.limits.memory,
            nano_cpus=int(self.limits.cpus * 1e9),
            # half the default weight: when the machine is busy (a deadline), accepting
            # submissions (the service's container) wins over grading them
            cpu_shares=512,
            pids_limit=self.limits.pids,
            read_only=True,
            tmpfs=tmpfs,
            cap_drop=["ALL"],
            cap_add=list(SANDBOX_CAPABILITIES),
            security_opt=["no-new-privileges", f"seccomp={sandbox_profile_json()}"],
            log_config=docker.types.LogConfig(type="none"),
            labels={"dlcourse.role": "grading-sandbox"},
        )

    def run(self, bundle, cancelled=None):
        start = time.monotonic()
        container = self.client.containers.create(**self.container_options())
        try:
            sock = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            raw = sock._sock  # the hijacked connection: needed for half-close of stdin
            try:
                container.start()
                deadline = start + self.limits.timeout
                try:
                    with stop_when(cancelled, lambda: _kill_quietly(container)):
                        _send_stdin(raw, bundle, deadline)
                        stdout, _stderr, truncated = _read_frames(raw, deadline,
                                                                  self.limits.output_bytes)
                except SandboxTimeout:
                    container.kill()
                    return RunResult(Outcome.TIMEOUT, None, self._info(container),
                                     f"killed after {self.limits.timeout:g} s",
                                     time.monotonic() - start)
            finally:
                sock.close()
            if truncated:
                _kill_quietly(container)
            exit_code = container.wait(timeout=30)["StatusCode"]
            info = self._info(container)
            outcome, result, message = parse_output(stdout, exit_code, truncated)
            if info["oom_killed"] and outcome is not Outcome.SUCCESS:
                outcome, message = Outcome.OOM, f"killed by the {self.limits.memory} memory limit"
            return RunResult(outcome, result, info, message, time.monotonic() - start)
        finally:
            container.remove(force=True)

    def _info(self, container):
        container.reload()
        host = container.attrs["HostConfig"]
        return self.sandbox_info(
            image=self.image,
            network_mode=host["NetworkMode"],
            memory_bytes=host["Memory"],
            memory_swap_bytes=host["MemorySwap"],
            nano_cpus=host["NanoCpus"],
            cpu_shares=host["CpuShares"],
            pids_limit=host["PidsLimit"],
            read_only_root=host["ReadonlyRootfs"],
            user=container.attrs["Config"]["User"],
            cap_drop=host["CapDrop"],
            cap_add=host["CapAdd"],
            security_opt=[o if not o.startswith("seccomp=") else f"seccomp={profile_digest()}"
                          for o in host["SecurityOpt"]],
            identities={"checker_uid": CHECKER_UID, "student_uid": STUDENT_UID},
            oom_killed=container.attrs["State"]["OOMKilled"],
        )


def _kill_quietly(container):
    """Stop a cancelled job's container (it may have just exited on its own)."""
    import docker
    import requests

    with contextlib.suppress(docker.errors.APIError, requests.RequestException):
        container.kill()


def _remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise SandboxTimeout()
    return left


def _send_stdin(raw, data, deadline):
    raw.settimeout(_remaining(deadline))
    try:
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)  # EOF on the container's stdin
    except TimeoutError:
        raise SandboxTimeout() from None


def _recv_exact(raw, size, deadline):
    chunks, left = [], size
    while left:
        raw.settimeout(_remaining(deadline))
        try:
            chunk = raw.recv(min(left, 65536))
        except TimeoutError:
            raise SandboxTimeout() from None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frames(raw, deadline, cap):
    """Demultiplex Docker's attach stream until EOF: ``(stdout, stderr tail, truncated)``."""
    stdout, stderr = bytearray(), bytearray()
    while True:
        header = _recv_exact(raw, 8, deadline)
        if header is None:
            return bytes(stdout), bytes(stderr), False
        kind, size = struct.unpack(">BxxxL", header)
        payload = _recv_exact(raw, size, deadline) or b""
        if kind == STDOUT:
            stdout += payload
            if len(stdout) > cap:
                return bytes(stdout[:cap]), bytes(stderr), True
        elif kind == STDERR:
            stderr = (stderr + payload)[-STDERR_TAIL:]
