"""Run the autograder in a fresh, locked-down Docker container per job.

The input bundle is streamed over the container's stdin (a read-only root has no
place to ``put_archive`` into before start); stdout is read from the same attach
socket, capped, and parsed as JSON only. The container is always removed.

With ``warm`` > 0 that many containers are started ahead of their jobs
(:class:`~.warm_pool.WarmPool`): created, attached and started like any other, their
autograder has done its imports and waits for its input on stdin. A job takes one and
streams its input in; the container still serves that one job and is then removed.
"""

import contextlib
import dataclasses
import datetime
import logging
import socket
import struct
import threading
import uuid

from ..sandbox_protocol import (
    CHECKER_HOME,
    CHECKER_UID,
    SANDBOX_CAPABILITIES,
    STUDENT_HOME,
    STUDENT_UID,
    identity_args,
)
from .base import SandboxOutput, SandboxRunner, SandboxTimeout, remaining
from .seccomp import profile_digest, sandbox_profile_json
from .warm_pool import WarmPool

log = logging.getLogger(__name__)

STDOUT, STDERR = 1, 2
ROLE_LABEL, OWNER_LABEL = "dlcourse.role", "dlcourse.sandbox-owner"
ROLE = "grading-sandbox"
STDERR_TAIL = 16 * 1024


@dataclasses.dataclass
class Sandbox:
    """A started sandbox container, attached (stdin, stdout, stderr), waiting for input."""

    container: object
    sock: object  # docker's attach socket; ``raw`` is its connection
    raw: socket.socket
    warm: bool = False


class DockerRunner(SandboxRunner):
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

    #: a sandbox of another grading process (or replica) is removed once it is this
    #: much older than the sandbox timeout; an exited one this long after it ended
    sweep_margin = 60.0
    #: the ``dlcourse.role`` label of this runner's sandboxes, the janitor's scope
    role = ROLE

    def __init__(self, limits, image="dlcourse/sandbox:latest", client=None, warm=0):
        super().__init__(limits)
        self.image = image
        self._client = client
        #: labels this process's sandboxes (host, pid, process start): the janitor removes
        #: at once those of a process of this host that is gone (a restart after a crash)
        self.owner = process_owner()
        self._live = set()  # container ids of this process's sandboxes (waiting or in a job)
        self._live_lock = threading.Lock()
        self.pool = WarmPool(lambda: self._start_sandbox(warm=True), _waiting,
                             self._remove, size=warm)

    @classmethod
    def from_config(cls, config):
        runner = super().from_config(config)
        runner.image = config["SANDBOX_IMAGE"]
        warm = config["SANDBOX_WARM"]
        runner.pool.size = config["WORKERS"] if warm < 0 else warm
        return runner

    def warm_up(self):
        """Start the pool of waiting sandboxes (``dl-grader serve``'s grading process)."""
        self.pool.open()

    def close(self):
        """Remove the sandboxes still waiting in the pool."""
        self.pool.close()

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
            labels={ROLE_LABEL: self.role, OWNER_LABEL: self.owner},
        )

    def _start_sandbox(self, warm=False) -> Sandbox:
        """Create, attach and start one sandbox container; it waits for its input."""
        with self._live_lock:  # the janitor never sees it before it is ours
            container = self.client.containers.create(**self.container_options())
            self._live.add(container.id)
        try:
            sock = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            sandbox = Sandbox(container, sock, sock._sock, warm)  # _sock: for half-close
            container.start()
        except BaseException:
            self._remove(Sandbox(container, None, None))
            raise
        return sandbox

    def _remove(self, sandbox: Sandbox):
        try:
            if sandbox.sock is not None:
                sandbox.sock.close()
            sandbox.container.remove(force=True)
        finally:
            with self._live_lock:
                self._live.discard(sandbox.container.id)

    # --- the steps of SandboxRunner.run ---------------------------------------------

    def start_sandbox(self) -> Sandbox:
        """One from the pool, or a fresh one when none is waiting."""
        return self.pool.take() or self._start_sandbox()

    def feed(self, sandbox, bundle, deadline):
        _send_stdin(sandbox.raw, bundle, deadline)

    def collect(self, sandbox, deadline):
        stdout, _stderr, truncated = _read_frames(sandbox.raw, deadline,
                                                  self.limits.output_bytes)
        if truncated:
            _kill_quietly(sandbox.container)
        exit_code = sandbox.container.wait(timeout=30)["StatusCode"]
        return SandboxOutput(stdout, exit_code, truncated)

    def stop(self, sandbox):
        _kill_quietly(sandbox.container)

    def remove(self, sandbox):
        self._remove(sandbox)

    def sweep(self, now=None):
        """Remove sandbox containers no live job owns: this process's that are not running
        a job here (left by a crash before a restart of the same runner), and any other
        owner's once older than the sandbox timeout + ``sweep_margin`` (its grading
        process died; a live one would have removed it), or ended that long ago."""
        import docker
        import requests

        now = now or datetime.datetime.now(datetime.UTC)
        removed = 0
        for container in self.client.containers.list(
                all=True, filters={"label": f"{ROLE_LABEL}={self.role}"}):
            with self._live_lock:
                if container.id in self._live:
                    continue
            if not self._abandoned(container, now):
                continue
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError,
                                     requests.RequestException):
                container.remove(force=True)
                removed += 1
                log.warning("removed leftover sandbox container %s (owner %s)",
                            container.short_id, container.labels.get(OWNER_LABEL))
        return removed

    def _abandoned(self, container, now):
        owner = container.labels.get(OWNER_LABEL, "")
        if owner == self.owner:
            return True  # ours, and no job of ours runs in it
        if owner.startswith(f"{socket.gethostname()}:") and not _process_alive(owner):
            return True  # a grading process of this host that is gone
        attrs = container.attrs
        state = attrs.get("State", {})
        created = _parse_time(attrs.get("Created"))
        if created is None:
            return False
        limit = datetime.timedelta(seconds=self.limits.timeout + self.sweep_margin)
        if now - created > limit:
            return True
        finished = _parse_time(state.get("FinishedAt"))
        return (not state.get("Running") and finished is not None and finished > created
                and now - finished > datetime.timedelta(seconds=self.sweep_margin))

    def facts(self, sandbox):
        container = sandbox.container
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
            warm=sandbox.warm,
        )


def _waiting(sandbox: Sandbox) -> bool:
    """Whether a pooled sandbox still runs, waiting for its input (not crashed or removed)."""
    import docker
    import requests

    try:
        sandbox.container.reload()
    except (docker.errors.APIError, requests.RequestException):
        return False
    return sandbox.container.attrs["State"]["Running"]


def _start_ticks(pid):
    """The start time in clock ticks since boot (``/proc/<pid>/stat``) of a process that
    still runs, or None: a zombie (killed, not yet reaped by an init that may never reap
    it) has ended."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return fields[19]


def process_owner():
    """``host:pid:start``: names this process uniquely on this host, even across pid reuse."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or uuid.uuid4().hex}"


def _process_alive(owner):
    """Whether the process named by a :func:`process_owner` value of this host still runs."""
    _host, pid, start = (owner.split(":") + ["", ""])[:3]
    return pid.isdigit() and _start_ticks(int(pid)) == start


def _parse_time(text):
    """Docker's RFC 3339 time with nanoseconds (``0001-01-01T00:00:00Z``: never) -> UTC."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    if not rest:
        head = head.rstrip("Z")
    zone = "+00:00"
    for sep in ("Z", "+", "-"):
        if sep in rest:
            fraction, _, offset = rest.partition(sep)
            zone = "+00:00" if sep == "Z" else sep + offset
            break
    else:
        fraction = rest
    return datetime.datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]:0<6}{zone}")


def _kill_quietly(container):
    """Stop a job's container (cancelled, timed out or flooding output) that may have just
    exited on its own: Docker then answers 409, which is not an error here."""
    import docker
    import requests

    with contextlib.suppress(docker.errors.APIError, requests.RequestException):
        container.kill()


def _send_stdin(raw, data, deadline):
    raw.settimeout(remaining(deadline))
    try:
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)  # EOF on the container's stdin
    except TimeoutError:
        raise SandboxTimeout() from None


def _recv_exact(raw, size, deadline):
    chunks, left = [], size
    while left:
        raw.settimeout(remaining(deadline))
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
