"""Run the autograder as one Kubernetes Job per submission (the cluster twin of docker.py).

Isolation, mirroring :class:`~grader_service.runners.docker.DockerRunner`:

- a fresh pod per job from the sandbox image, ``restartPolicy: Never``, no retries;
- two identities (:mod:`grader_service.sandbox_protocol`): the container starts as root
  with every capability dropped but ``SANDBOX_CAPABILITIES`` (SETUID, SETGID, KILL);
  the autograder (``python -I``, PID 1) becomes the checker uid at once and runs the
  student's code as the student uid with no capabilities. Read-only root, no privilege
  escalation, not privileged, no shared process namespace, no host namespaces, no
  service-account token, no service links, no ``fsGroup`` (the kubelet would hand the
  scratch volumes to one group);
- seccomp ``RuntimeDefault``, or with ``GRADER_K8S_SECCOMP_PROFILE`` the sandbox profile
  of :mod:`grader_service.runners.seccomp` (no ptrace, ``process_vm_*`` ...) as a
  ``Localhost`` profile, which must be installed on every node that runs grading pods;
- the pod runs under the PodSecurity ``baseline`` level, not ``restricted``
  (root and the three capabilities are what the uid split needs);
- requests == limits for memory, CPU and ephemeral storage, so the pod is in the
  *Guaranteed* QoS class: Kubernetes never gives such a pod swap (the docker runner's
  memory == swap), and the kernel's OOM killer ends it at the memory limit;
- small ``emptyDir`` scratch volumes for ``/tmp`` and the two homes (counted against
  the ephemeral-storage limit, like the docker runner's tmpfs). An ``emptyDir`` is
  created mode 0777 without the sticky bit, where any uid may rename what another
  created (a student could swap the checker's work directory for one of its own):
  the init container ``prepare-scratch`` (root, only ``CAP_CHOWN``, before any other
  code runs) gives them the docker runner's owners and modes (:data:`SCRATCH_OWNERS`);
- no network: the pods carry :data:`SANDBOX_LABELS`, which the Helm chart's
  NetworkPolicy selects with neither an ingress nor an egress rule. Whether a
  NetworkPolicy is enforced depends on the cluster's CNI; this runner cannot see it;
- the wall-clock ``limits.timeout`` counts from the moment the container runs (image
  pulls and scheduling are the cluster's time, bounded by ``start_timeout``, and a pod
  that never starts is an infrastructure failure, retried by the queue);
  ``activeDeadlineSeconds`` on the Job is a backstop if the service itself dies;
- a pids limit has no per-pod field in Kubernetes: set ``podPidsLimit`` in the kubelet
  configuration of the nodes that run grading pods.

Input and output. The pod template opens stdin with ``stdinOnce``. Once the container
runs, the runner attaches to stdin only (the client's websocket ``stream``), sends the
tar and disconnects; with ``stdinOnce`` the kubelet then closes the container's stdin,
which is the EOF the autograder reads to. The answer is read after the container has
terminated from the pod log endpoint (the container's stdout), capped at
``limits.output_bytes``. The container command sends stderr to /dev/null because the
log endpoint interleaves both streams. Reading stdout over the same attach socket
would need a half-close of stdin (only in the v5 websocket protocol) and a connection
kept open through minutes of silence; the log survives a dropped connection.

The Job is always deleted (pods go with it); ``ttlSecondsAfterFinished`` cleans up
after a service that died mid-job. Settings beyond the shared ``GRADER_SANDBOX_*``
limits come from the ``GRADER_K8S_*`` variables (:mod:`.kubernetes_settings`); the Job
itself is built by :mod:`.kubernetes_manifest`.
"""

import dataclasses
import logging
import threading
import time
import uuid

from ..sandbox_protocol import (
    CHECKER_UID,
    STUDENT_UID,
)
from .base import SandboxOutput, SandboxRunner, SandboxTimeout, remaining
from .kubernetes_manifest import (
    CONTAINER,
    INIT_CONTAINER,
    JOB_LABEL,
    SANDBOX_LABELS,
    SCRATCH_SIZES,
    build_job_manifest,
)
from .kubernetes_settings import KubernetesSettings

log = logging.getLogger(__name__)
STDIN_CHUNK = 64 * 1024
#: Waiting reasons that no amount of waiting will fix: fail the start at once.
FATAL_WAITING_REASONS = {"InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
                         "CreateContainerError"}


@dataclasses.dataclass
class JobSandbox:
    """One grading Job and, once it runs, its pod (as a plain dict)."""

    name: str
    pod: dict | None = None


class SandboxStartError(RuntimeError):
    """The pod did not start (unschedulable, image problems): infrastructure, retried."""


class KubernetesJobRunner(SandboxRunner):
    """One Job per grading run; see the module docstring for the isolation it gives."""

    name = "kubernetes"
    scratch_sizes = SCRATCH_SIZES

    def __init__(self, limits, settings=None, batch_api=None, core_api=None, attach=None):
        super().__init__(limits)
        self.settings = settings or KubernetesSettings()
        self._batch, self._core = batch_api, core_api
        self._attach = attach
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config):
        try:  # fail at start, not once per submission
            import kubernetes  # noqa: F401
        except ImportError as err:
            raise RuntimeError("GRADER_RUNNER=kubernetes needs the `kubernetes` Python "
                               "package in the grading service's environment") from err
        runner = super().from_config(config)
        runner.settings = KubernetesSettings.from_config(config)
        return runner

    # --- the Kubernetes client (loaded lazily, once, shared by worker threads) ---------

    def _apis(self):
        with self._lock:
            if self._batch is None or self._core is None:
                from kubernetes import client, config

                try:
                    config.load_incluster_config()
                except config.ConfigException:
                    config.load_kube_config()
                api = client.ApiClient()
                self._batch = self._batch or client.BatchV1Api(api)
                self._core = self._core or client.CoreV1Api(api)
        return self._batch, self._core

    def attach_stdin(self, pod_name):
        """A websocket attached to the pod's stdin (``write_stdin``, ``close``, ``sock``)."""
        if self._attach is not None:
            return self._attach(pod_name)
        from kubernetes import client
        from kubernetes.stream import stream

        # stream() swaps its ApiClient's transport while it connects: give it its own
        # client so other worker threads' plain requests never take the websocket path.
        core = client.CoreV1Api(client.ApiClient(self._apis()[1].api_client.configuration))
        return stream(core.connect_get_namespaced_pod_attach, pod_name, self.settings.namespace,
                      container=CONTAINER, stdin=True, stdout=False, stderr=False, tty=False,
                      binary=True, _preload_content=False)

    # --- one run --------------------------------------------------------------------------

    # --- the steps of SandboxRunner.run ---------------------------------------------

    def start_sandbox(self) -> JobSandbox:
        """Create the Job (its pod is scheduled and started by the cluster)."""
        name = f"dlcourse-grading-{uuid.uuid4().hex[:12]}"
        self._apis()[0].create_namespaced_job(
            self.settings.namespace,
            build_job_manifest(name, self.limits, self.settings, self.scratch_sizes))
        return JobSandbox(name)

    def wait_until_running(self, sandbox, began):
        sandbox.pod = self._wait_for_start(sandbox.name, began + self.settings.start_timeout)

    def feed(self, sandbox, bundle, deadline):
        if _container_state(sandbox.pod)[0] == "running":
            self._send_stdin(sandbox.pod, bundle, deadline)

    def collect(self, sandbox, deadline):
        sandbox.pod = pod = self._wait_for_exit(sandbox.pod, deadline)
        status = pod.get("status") or {}
        if status.get("reason") == "Evicted":  # e.g. past its ephemeral-storage limit
            return SandboxOutput(problem=f"evicted: {status.get('message', '')}".strip())
        state, detail = _container_state(pod)
        if state != "terminated":
            raise RuntimeError(f"grading pod ended without a container result: "
                               f"{_pod_reason(pod)}")
        stdout = self._read_stdout(pod)
        return SandboxOutput(stdout, detail.get("exitCode"),
                             len(stdout) > self.limits.output_bytes)

    def stop(self, sandbox):
        self._delete_job(sandbox.name)

    def facts(self, sandbox):
        return self._info(sandbox.name, sandbox.pod)

    def remove(self, sandbox):
        self._delete_job(sandbox.name)

    def _wait_for_start(self, name, deadline):
        """The Job's pod once its container runs (or already ended); else SandboxStartError."""
        core = self._apis()[1]
        selector = f"{JOB_LABEL}={name}"
        last = "no pod created yet"
        for pause in self._pauses():
            pods = _plain(core.list_namespaced_pod(self.settings.namespace,
                                                   label_selector=selector)).get("items") or []
            if pods:
                pod = pods[0]
                init_state, init_detail = _container_state(pod, INIT_CONTAINER,
                                                           "initContainerStatuses")
                if init_state == "terminated" and init_detail.get("exitCode"):
                    raise SandboxStartError(f"init container {INIT_CONTAINER} failed: "
                                            f"{init_detail.get('reason', '')} (exit code "
                                            f"{init_detail['exitCode']})")
                if init_detail.get("reason") in FATAL_WAITING_REASONS:
                    raise SandboxStartError(f"grading pod cannot start: "
                                            f"{init_detail['reason']}: "
                                            f"{init_detail.get('message', '')}")
                state, detail = _container_state(pod)
                if state in ("running", "terminated") or _phase(pod) in ("Succeeded", "Failed"):
                    return pod
                last = detail.get("reason") or _pod_reason(pod)
                if last in FATAL_WAITING_REASONS:
                    raise SandboxStartError(f"grading pod cannot start: {last}: "
                                            f"{detail.get('message', '')}")
            if time.monotonic() + pause > deadline:
                raise SandboxStartError(f"grading pod not running after "
                                        f"{self.settings.start_timeout:g} s: {last}")
            time.sleep(pause)

    def _send_stdin(self, pod, bundle, deadline):
        """Write the bundle to the container's stdin; disconnecting closes it (stdinOnce)."""
        import websocket

        ws = self.attach_stdin(_pod_name(pod))
        try:
            for offset in range(0, len(bundle), STDIN_CHUNK):
                ws.sock.settimeout(remaining(deadline))
                ws.write_stdin(bundle[offset:offset + STDIN_CHUNK])
        except (TimeoutError, websocket.WebSocketTimeoutException):
            raise SandboxTimeout() from None
        except (OSError, websocket.WebSocketException):
            # The autograder may stop reading early (a bad archive): fine if it ended.
            if _container_state(self._read_pod(pod))[0] != "terminated":
                raise
        finally:
            ws.close()

    def _wait_for_exit(self, pod, deadline):
        for pause in self._pauses():
            if _container_state(pod)[0] == "terminated" or _phase(pod) in ("Succeeded",
                                                                             "Failed"):
                return pod
            if time.monotonic() >= deadline:
                raise SandboxTimeout()
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pod = self._read_pod(pod)

    def _read_pod(self, pod):
        return _plain(self._apis()[1].read_namespaced_pod(_pod_name(pod),
                                                          self.settings.namespace))

    def _read_stdout(self, pod):
        """The container's stdout, at most ``output_bytes + 1`` bytes of it."""
        cap = self.limits.output_bytes + 1
        response = self._apis()[1].read_namespaced_pod_log(
            _pod_name(pod), self.settings.namespace, container=CONTAINER, limit_bytes=cap,
            _preload_content=False)
        try:
            return response.read(cap)
        finally:
            response.release_conn()

    def _delete_job(self, name):
        try:
            self._apis()[0].delete_namespaced_job(
                name, self.settings.namespace, propagation_policy="Background",
                grace_period_seconds=0)
        except Exception as err:  # noqa: BLE001 - ttlSecondsAfterFinished is the fallback
            if getattr(err, "status", None) != 404:
                log.warning("could not delete grading job %s: %s", name, err)

    def _pauses(self):
        """0.2 s, 0.4 s, ... up to ``poll_seconds``, forever."""
        pause = min(0.2, self.settings.poll_seconds)
        while True:
            yield pause
            pause = min(pause * 2, self.settings.poll_seconds)

    def _info(self, name, pod):
        pod = pod or {}
        spec = pod.get("spec") or {}
        containers = spec.get("containers") or [{}]
        container = containers[0]
        limits = (container.get("resources") or {}).get("limits") or {}
        security = container.get("securityContext") or {}
        state, detail = _container_state(pod) if pod else ("", {})
        return self.sandbox_info(
            image=container.get("image", self.settings.image),
            namespace=self.settings.namespace,
            job=name,
            pod=_pod_name(pod) if pod else "",
            node=spec.get("nodeName", ""),
            network_mode="none (NetworkPolicy without ingress or egress rules)",
            network_policy_selector=dict(SANDBOX_LABELS),
            memory_limit=limits.get("memory"),
            cpu_limit=limits.get("cpu"),
            ephemeral_storage_limit=limits.get("ephemeral-storage"),
            qos_class=(pod.get("status") or {}).get("qosClass", ""),
            read_only_root=security.get("readOnlyRootFilesystem"),
            user=f"{security.get('runAsUser')}:{security.get('runAsGroup')}",
            allow_privilege_escalation=security.get("allowPrivilegeEscalation"),
            cap_drop=(security.get("capabilities") or {}).get("drop"),
            cap_add=(security.get("capabilities") or {}).get("add"),
            seccomp=(security.get("seccompProfile") or {}).get("localhostProfile")
            or (security.get("seccompProfile") or {}).get("type"),
            share_process_namespace=spec.get("shareProcessNamespace"),
            identities={"checker_uid": CHECKER_UID, "student_uid": STUDENT_UID},
            automount_service_account_token=spec.get("automountServiceAccountToken"),
            pids_limit=None,  # node-level kubelet podPidsLimit
            exit_code=detail.get("exitCode") if state == "terminated" else None,
            oom_killed=state == "terminated" and detail.get("reason") == "OOMKilled",
        )


def _plain(obj):
    """API objects as plain camelCase dicts (what the API server sent)."""
    if obj is None or isinstance(obj, dict):
        return obj
    from kubernetes import client

    return client.ApiClient().sanitize_for_serialization(obj)


def _pod_name(pod):
    return pod["metadata"]["name"]


def _phase(pod):
    return (pod.get("status") or {}).get("phase", "")


def _pod_reason(pod):
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            return f"{condition['reason']}: {condition.get('message', '')}".strip()
    return status.get("reason") or status.get("phase") or "unknown"


def _container_state(pod, name=CONTAINER, kind="containerStatuses"):
    """``(state, detail)`` of the sandbox container (or the init container ``name`` in
    ``initContainerStatuses``): running/waiting/terminated or ''."""
    for status in (pod.get("status") or {}).get(kind) or []:
        if status.get("name") == name:
            for state in ("terminated", "running", "waiting"):
                detail = (status.get("state") or {}).get(state)
                if detail is not None:
                    return state, detail
    return "", {}
