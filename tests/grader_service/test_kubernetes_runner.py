"""KubernetesJobRunner without a cluster.

The Job manifest is a pure function: it must pass the Kubernetes schemas and carry every
limit. ``run()`` is driven through fake API objects: a scripted one for the outcomes
(timeout, OOM, truncated output, pods that never start, evictions), and a "kubelet"
that runs the manifest's own command as a local process, so the real autograder reads
the bundle from the attach stream and answers through the log. Needs the
``kubernetes`` and ``kubernetes-validate`` packages (fails instead of skipping, CI=true).
"""

import copy
import os
import subprocess
import sys
import threading
import time

import pytest

from grader_service.outcomes import Outcome
from grader_service.runners import SandboxLimits, make_runner
from grader_service.runners.kubernetes import KubernetesJobRunner, SandboxStartError
from grader_service.runners.kubernetes_manifest import (
    CONTAINER,
    HOME,
    INIT_CONTAINER,
    JOB_LABEL,
    SANDBOX_LABELS,
    SCRATCH_OWNERS,
    WORKDIR,
    build_job_manifest,
    bytes_to_quantity,
    cpu_quantity,
    scratch_script,
    size_to_bytes,
)
from grader_service.runners.kubernetes_settings import KubernetesSettings
from grader_service.runners.seccomp import sandbox_profile_json
from grader_service.sandbox_protocol import (
    CHECKER_HOME,
    CHECKER_UID,
    SANDBOX_CAPABILITIES,
    STUDENT_HOME,
    STUDENT_UID,
    identity_args,
)
from tests.conftest import require, require_image

try:
    import kubernetes
    import kubernetes_validate
except ImportError as err:  # pragma: no cover - depends on the venv
    kubernetes = kubernetes_validate = None
    MISSING = str(err)

OLDEST, NEWEST = "1.30.0", "1.37.0"


@pytest.fixture(autouse=True)
def _needs_packages():
    require(kubernetes is not None and kubernetes_validate is not None,
            f"kubernetes / kubernetes-validate not installed: "
            f"{globals().get('MISSING', '')}")


LIMITS = SandboxLimits(memory="2g", cpus=1.5, timeout=300, cell_timeout=60,
                       output_bytes=1024 * 1024)
SETTINGS_FULL = KubernetesSettings(
    image="registry.example.edu/dlcourse/sandbox:1.0", namespace="grading",
    service_account="dlcourse-sandbox", image_pull_secrets=("regcred",),
    ephemeral_storage="1Gi", start_timeout=120, node_selector={"pool": "grading"},
    tolerations=[{"key": "grading", "operator": "Exists", "effect": "NoSchedule"}],
    priority_class="grading", runtime_class="gvisor", pod_labels={"team": "dl"})


def pod_spec(manifest):
    return manifest["spec"]["template"]["spec"]


# --- the manifest ---------------------------------------------------------------------


@pytest.mark.parametrize("settings", [KubernetesSettings(), SETTINGS_FULL],
                         ids=["defaults", "everything-set"])
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_job_manifest_passes_the_kubernetes_schema(settings, version):
    manifest = build_job_manifest("dlcourse-grading-0123456789ab", LIMITS, settings)
    kubernetes_validate.validate(manifest, version, strict=True)


def test_job_manifest_carries_every_limit():
    manifest = build_job_manifest("dlcourse-grading-x", LIMITS, SETTINGS_FULL)
    spec = manifest["spec"]
    pod = pod_spec(manifest)
    (container,) = pod["containers"]
    resources = container["resources"]
    # requests == limits: Guaranteed QoS, so no swap and the OOM killer at the limit
    assert resources["requests"] == resources["limits"] == {
        "cpu": "1500m", "memory": "2Gi", "ephemeral-storage": "1Gi"}
    assert spec["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] >= 120 + 300
    assert spec["ttlSecondsAfterFinished"] > 0
    assert container["stdin"] is True and container["stdinOnce"] is True
    assert container["tty"] is False
    assert "--cell-timeout" in container["command"]
    assert container["command"][container["command"].index("--cell-timeout") + 1] == "60"
    # the init container asks for exactly the same: the pod stays Guaranteed
    (init,) = pod["initContainers"]
    assert init["resources"] == resources
    # scratch space fits in the ephemeral-storage limit
    sizes = [size_to_bytes(v["emptyDir"]["sizeLimit"]) for v in pod["volumes"]]
    assert sum(sizes) < size_to_bytes(resources["limits"]["ephemeral-storage"])
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", HOME, STUDENT_HOME}
    assert init["volumeMounts"] == container["volumeMounts"]
    assert all(set(v) == {"name", "emptyDir"} for v in pod["volumes"])  # no hostPath
    # where and as whom
    assert pod["serviceAccountName"] == "dlcourse-sandbox"
    assert pod["nodeSelector"] == {"pool": "grading"}
    assert pod["runtimeClassName"] == "gvisor" and pod["priorityClassName"] == "grading"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert container["image"] == "registry.example.edu/dlcourse/sandbox:1.0"
    assert manifest["metadata"]["namespace"] == "grading"


def test_job_manifest_locks_the_pod_down():
    """Root in the container only to split checker and student; nothing else."""
    pod = pod_spec(build_job_manifest("dlcourse-grading-x", LIMITS, KubernetesSettings()))
    (container,) = pod["containers"]
    for security in (pod["securityContext"], container["securityContext"]):
        assert security["runAsUser"] == security["runAsGroup"] == 0
        assert security["runAsNonRoot"] is False
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID", "KILL"]}
    assert tuple(security["capabilities"]["add"]) == SANDBOX_CAPABILITIES
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False  # no_new_privs
    assert security["privileged"] is False
    assert "fsGroup" not in pod["securityContext"]  # the kubelet would chgrp the scratch
    assert "supplementalGroups" not in pod["securityContext"]
    assert pod["shareProcessNamespace"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert not (pod["hostNetwork"] or pod["hostPID"] or pod["hostIPC"])
    assert "serviceAccountName" not in pod  # empty setting: the namespace default
    # python -I (no user site, no PYTHON* variables, no script directory on sys.path),
    # the checker's private workdir and the two identities
    command = container["command"]
    assert command[:4] == ["/bin/sh", "-c", 'exec "$@" 2>/dev/null', "autograde"]
    assert command[4:8] == ["python", "-I", "-m", "grader_service.autograde"]
    assert command[command.index("--workdir") + 1] == WORKDIR == f"{CHECKER_HOME}/work"
    position = command.index("--checker-uid")
    assert command[position:position + 4] == identity_args() == [
        "--checker-uid", str(CHECKER_UID), "--student-uid", str(STUDENT_UID)]
    assert command[command.index("--student-home") + 1] == STUDENT_HOME
    assert container["workingDir"] == HOME == CHECKER_HOME
    assert container["env"] == [{"name": "HOME", "value": CHECKER_HOME}]


def test_init_container_gives_the_scratch_volumes_their_owners():
    """emptyDirs are 0777 without the sticky bit: a student could rename the checker's
    work directory. The init container makes them what the docker runner's tmpfs are."""
    pod = pod_spec(build_job_manifest("dlcourse-grading-x", LIMITS, KubernetesSettings()))
    (init,) = pod["initContainers"]
    assert init["name"] == INIT_CONTAINER
    assert init["image"] == pod["containers"][0]["image"]
    security = init["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert security["runAsUser"] == 0 and security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True and security["privileged"] is False
    assert security["seccompProfile"] == pod["securityContext"]["seccompProfile"]
    assert SCRATCH_OWNERS == {"/tmp": (0, "1777"), CHECKER_HOME: (CHECKER_UID, "0700"),
                              STUDENT_HOME: (STUDENT_UID, "0700")}
    assert init["command"] == ["/bin/sh", "-c", scratch_script()]
    assert scratch_script() == (
        "chmod 1777 /tmp && chown 0:0 /tmp && "
        "chmod 0700 /home/grader && chown 1001:1001 /home/grader && "
        "chmod 0700 /home/student && chown 1000:1000 /home/student")


def test_localhost_seccomp_profile_when_configured():
    settings = KubernetesSettings(seccomp_profile="dlcourse/sandbox.json")
    pod = pod_spec(build_job_manifest("dlcourse-grading-x", LIMITS, settings))
    localhost = {"type": "Localhost", "localhostProfile": "dlcourse/sandbox.json"}
    assert pod["securityContext"]["seccompProfile"] == localhost
    for container in pod["containers"] + pod["initContainers"]:
        assert container["securityContext"]["seccompProfile"] == localhost
    env = k8s_settings({"GRADER_K8S_SECCOMP_PROFILE": "dlcourse/sandbox.json"})
    assert env.seccomp_profile == "dlcourse/sandbox.json"
    assert k8s_settings({}).seccomp_profile == ""


def test_sandbox_labels_win_over_extra_labels():
    settings = KubernetesSettings(pod_labels={"app.kubernetes.io/component": "web",
                                              "team": "dl"})
    labels = build_job_manifest("j", LIMITS, settings)["spec"]["template"]["metadata"]["labels"]
    assert SANDBOX_LABELS.items() <= labels.items()
    assert labels["team"] == "dl" and labels[JOB_LABEL] == "j"


def test_the_client_sends_the_manifest_unchanged():
    """The client's model keeps every field we set (a misspelt field would vanish here)."""
    manifest = build_job_manifest("dlcourse-grading-x", LIMITS, SETTINGS_FULL)
    model = kubernetes.client.V1Job.model_validate(copy.deepcopy(manifest))
    assert kubernetes.client.ApiClient().sanitize_for_serialization(model) == manifest


@pytest.mark.parametrize("size, expected", [
    ("2g", 2 * 1024**3), ("2G", 2 * 1024**3), ("2Gi", 2 * 1024**3), ("2GiB", 2 * 1024**3),
    ("512m", 512 * 1024**2), ("1536Mi", 1536 * 1024**2), ("64k", 65536), ("1000", 1000),
    (4096, 4096),
])
def test_memory_sizes_follow_docker(size, expected):
    assert size_to_bytes(size) == expected


@pytest.mark.parametrize("bad", ["", "2 GB of RAM", "-1g", "2x", "1e9"])
def test_bad_memory_sizes_are_refused(bad):
    with pytest.raises(ValueError):
        size_to_bytes(bad)


def test_quantities():
    assert bytes_to_quantity(2 * 1024**3) == "2Gi"
    assert bytes_to_quantity(1536 * 1024**2) == "1536Mi"
    assert bytes_to_quantity(1000) == "1000"
    assert cpu_quantity(1) == "1000m" and cpu_quantity(0.25) == "250m"


# --- settings and the runner registry ------------------------------------------------


def test_settings_from_the_environment():
    env = {"GRADER_K8S_NAMESPACE": "grading", "GRADER_K8S_NODE_SELECTOR": '{"pool": "g"}',
           "GRADER_K8S_TOLERATIONS": '[{"key": "g", "operator": "Exists"}]',
           "GRADER_K8S_IMAGE_PULL_SECRETS": "a, b", "GRADER_K8S_START_TIMEOUT": "60",
           "GRADER_K8S_POD_LABELS": '{"app.kubernetes.io/instance": "dlcourse"}',
           "GRADER_K8S_PRIORITY_CLASS": ""}
    settings = k8s_settings({**env, "GRADER_SANDBOX_IMAGE": "img:1"})
    assert settings.namespace == "grading" and settings.image == "img:1"
    assert settings.node_selector == {"pool": "g"}
    assert settings.tolerations == [{"key": "g", "operator": "Exists"}]
    assert settings.image_pull_secrets == ("a", "b")
    assert settings.start_timeout == 60.0 and settings.priority_class == ""
    assert settings.pod_labels == {"app.kubernetes.io/instance": "dlcourse"}


def test_settings_refuse_json_of_the_wrong_shape():
    with pytest.raises(ValueError):
        k8s_settings({"GRADER_K8S_NODE_SELECTOR": "[1, 2]"})


def k8s_settings(environ):
    """The runner's settings as the service reads them from ``environ``."""
    from grader_service.config import from_env

    return KubernetesSettings.from_config(from_env(environ))


def test_every_setting_is_in_the_service_settings_table():
    from grader_service.config import SETTINGS

    fields = {f for f in KubernetesSettings.__dataclass_fields__} - {"image"}
    rows = {key: row for key, row in SETTINGS.items() if key.startswith("K8S_")}
    assert set(rows) == {f"K8S_{field.upper()}" for field in fields}
    assert all(var == f"GRADER_{key}" and help_ for key, (var, _d, _c, help_, _s) in rows.items())


def test_registry_knows_the_kubernetes_runner():
    from grader_service.config import from_env

    config = from_env({"GRADER_SANDBOX_IMAGE": "img:2", "GRADER_SANDBOX_MEMORY": "3g",
                       "GRADER_K8S_NAMESPACE": "grading"})
    runner = make_runner("kubernetes", config)
    assert isinstance(runner, KubernetesJobRunner)
    assert runner.settings.namespace == "grading" and runner.settings.image == "img:2"
    assert runner.limits.memory == "3g"


# --- run() against fake API objects --------------------------------------------------


class ApiError(Exception):
    def __init__(self, status):
        super().__init__(f"HTTP {status}")
        self.status = status


class FakeLog:
    def __init__(self, data):
        self.data = data
        self.released = False

    def read(self, amount):
        return self.data[:amount]

    def release_conn(self):
        self.released = True


class FakeSocket:
    def settimeout(self, _seconds):
        pass


class FakeAttach:
    def __init__(self, cluster, fail=None):
        self.cluster, self.fail = cluster, fail
        self.sock = FakeSocket()

    def write_stdin(self, data):
        if self.fail:
            raise self.fail
        self.cluster.stdin += data

    def close(self):
        self.cluster.stdin_closed = True


class ScriptedCluster:
    """Batch and Core API doubles; the pod walks through ``states`` one read at a time."""

    def __init__(self, states, log=b"", status_extra=None, attach_error=None):
        self.states = list(states)
        self.log = log
        self.status_extra = status_extra or {}
        self.attach_error = attach_error
        self.jobs, self.deleted, self.calls = {}, [], []
        self.stdin, self.stdin_closed = b"", False
        self.reads = 0

    # BatchV1Api
    def create_namespaced_job(self, namespace, body):
        self.calls.append("create_namespaced_job")
        self.jobs[body["metadata"]["name"]] = body

    def delete_namespaced_job(self, name, namespace, **kwargs):
        self.calls.append("delete_namespaced_job")
        self.deleted.append((name, kwargs.get("propagation_policy")))

    # CoreV1Api
    def _pod(self):
        (name, job), = self.jobs.items()
        state = self.states[min(self.reads, len(self.states) - 1)]
        self.reads += 1
        if state == "gone":
            raise ApiError(404)
        template = job["spec"]["template"]
        status = {"phase": "Pending", "qosClass": "Guaranteed", **self.status_extra}
        if state is not None:
            kind = next(iter(state))
            status["phase"] = {"running": "Running", "waiting": "Pending"}.get(
                kind, "Failed" if state[kind].get("exitCode") else "Succeeded")
            status["containerStatuses"] = [{"name": CONTAINER, "state": state}]
        return {"metadata": {"name": f"{name}-abcde", "labels": template["metadata"]["labels"]},
                "spec": {**template["spec"], "nodeName": "node-1"}, "status": status}

    def list_namespaced_pod(self, namespace, label_selector):
        self.calls.append("list_namespaced_pod")
        return {"items": [self._pod()]}

    def read_namespaced_pod(self, name, namespace):
        self.calls.append("read_namespaced_pod")
        return self._pod()

    def read_namespaced_pod_log(self, name, namespace, container, limit_bytes,
                                _preload_content):
        self.calls.append("read_namespaced_pod_log")
        assert container == CONTAINER and _preload_content is False
        return FakeLog(self.log[:limit_bytes])

    def attach(self, pod_name):
        self.calls.append("connect_get_namespaced_pod_attach")
        return FakeAttach(self, self.attach_error)


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
WAITING = {"waiting": {"reason": "ContainerCreating"}}
GOOD = b'{"tests": [], "score": 1.0, "max_score": 1.0, "notebooks": {}}\n'


def done(code=0, reason="Completed"):
    return {"terminated": {"exitCode": code, "reason": reason}}


def make_runner_for(cluster, **limits):
    limits = {"timeout": 5.0, "output_bytes": 1024, **limits}
    settings = KubernetesSettings(namespace="grading", start_timeout=5.0, poll_seconds=0.05)
    return KubernetesJobRunner(SandboxLimits(**limits), settings, batch_api=cluster,
                               core_api=cluster, attach=cluster.attach)


def test_success_sends_the_bundle_reads_the_answer_and_deletes_the_job():
    cluster = ScriptedCluster([None, WAITING, RUNNING, RUNNING, done(0)], log=GOOD)
    run = make_runner_for(cluster).run(b"the bundle" * 10000)
    assert run.outcome is Outcome.SUCCESS, run.message
    assert run.result["score"] == 1.0
    assert cluster.stdin == b"the bundle" * 10000 and cluster.stdin_closed
    (name, job), = cluster.jobs.items()
    assert cluster.deleted == [(name, "Background")]
    info = run.sandbox
    assert info["runner"] == "kubernetes" and info["qos_class"] == "Guaranteed"
    assert info["memory_limit"] == "1Gi" and info["read_only_root"] is True
    assert info["user"] == "0:0" and info["cap_drop"] == ["ALL"]
    assert info["cap_add"] == list(SANDBOX_CAPABILITIES) and info["seccomp"] == "RuntimeDefault"
    assert info["identities"] == {"checker_uid": CHECKER_UID, "student_uid": STUDENT_UID}
    assert info["share_process_namespace"] is False
    assert info["automount_service_account_token"] is False
    assert info["network_policy_selector"] == SANDBOX_LABELS
    assert info["exit_code"] == 0 and info["oom_killed"] is False


def test_wall_clock_timeout_kills_the_job():
    cluster = ScriptedCluster([RUNNING])
    started = time.monotonic()
    run = make_runner_for(cluster, timeout=0.4).run(b"x")
    assert run.outcome is Outcome.TIMEOUT
    assert 0.4 <= time.monotonic() - started < 3
    assert cluster.deleted and "read_namespaced_pod_log" not in cluster.calls


def test_oom_killed_container_is_oom():
    cluster = ScriptedCluster([RUNNING, done(137, "OOMKilled")], log=b"")
    run = make_runner_for(cluster).run(b"x")
    assert run.outcome is Outcome.OOM and run.sandbox["oom_killed"] is True
    assert "memory limit" in run.message


def test_oversized_answer_is_an_error():
    cluster = ScriptedCluster([RUNNING, done(0)], log=b"x" * 5000)
    run = make_runner_for(cluster, output_bytes=1024).run(b"x")
    assert run.outcome is Outcome.ERROR and "exceeded" in run.message


def test_garbage_answer_is_an_error():
    cluster = ScriptedCluster([RUNNING, done(1)], log=b"Traceback ...")
    run = make_runner_for(cluster).run(b"x")
    assert run.outcome is Outcome.ERROR and "JSON" in run.message


def test_eviction_is_an_error_of_the_submission():
    cluster = ScriptedCluster([RUNNING, {"terminated": {"exitCode": 137, "reason": "Error"}}],
                              status_extra={"reason": "Evicted",
                                            "message": "ephemeral local storage usage exceeds"})
    run = make_runner_for(cluster).run(b"x")
    assert run.outcome is Outcome.ERROR and run.message.startswith("evicted")


def test_image_that_cannot_start_is_infrastructure_and_cleaned_up():
    cluster = ScriptedCluster([{"waiting": {"reason": "ErrImageNeverPull", "message": "no"}}])
    with pytest.raises(SandboxStartError, match="ErrImageNeverPull"):
        make_runner_for(cluster).run(b"x")
    assert cluster.deleted


def test_init_container_that_fails_is_infrastructure():
    cluster = ScriptedCluster([None], status_extra={"initContainerStatuses": [
        {"name": INIT_CONTAINER, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]})
    with pytest.raises(SandboxStartError, match=INIT_CONTAINER):
        make_runner_for(cluster).run(b"x")
    assert cluster.deleted and not cluster.stdin


def test_init_container_image_that_cannot_start_fails_at_once():
    cluster = ScriptedCluster([None], status_extra={"initContainerStatuses": [
        {"name": INIT_CONTAINER, "state": {"waiting": {"reason": "ErrImageNeverPull"}}}]})
    started = time.monotonic()
    with pytest.raises(SandboxStartError, match="ErrImageNeverPull"):
        make_runner_for(cluster).run(b"x")
    assert time.monotonic() - started < 2


def test_pod_that_never_starts_is_infrastructure():
    cluster = ScriptedCluster([None])
    runner = make_runner_for(cluster)
    runner.settings = KubernetesSettings(namespace="grading", start_timeout=0.3,
                                         poll_seconds=0.05)
    with pytest.raises(SandboxStartError, match="not running"):
        runner.run(b"x")
    assert cluster.deleted and not cluster.stdin


def test_pod_that_vanishes_is_infrastructure():
    cluster = ScriptedCluster([RUNNING, "gone"])
    with pytest.raises(ApiError):
        make_runner_for(cluster).run(b"x")
    assert cluster.deleted


def test_autograder_that_stops_reading_early_still_answers():
    cluster = ScriptedCluster([RUNNING, done(2)], log=b'{"error": "invalid input archive"}\n',
                              attach_error=BrokenPipeError())
    run = make_runner_for(cluster).run(b"not a tar")
    assert run.outcome is Outcome.ERROR and "invalid input archive" in run.message


def test_api_calls_are_the_ones_the_chart_role_grants():
    """tests/helm checks the Role against this list: keep them in step."""
    cluster = ScriptedCluster([RUNNING, done(0)], log=GOOD)
    make_runner_for(cluster).run(b"x")
    assert set(cluster.calls) == {"create_namespaced_job", "delete_namespaced_job",
                                  "list_namespaced_pod", "read_namespaced_pod",
                                  "read_namespaced_pod_log",
                                  "connect_get_namespaced_pod_attach"}


# --- the real autograder behind a fake kubelet ---------------------------------------


def same_uid(command):
    """``command`` with the identity flags replaced by ``--same-uid``: a local process
    cannot switch uids (the Docker tier runs the two identities for real)."""
    flags = [*identity_args(), "--student-home"]
    position = command.index(flags[0])
    assert command[position:position + 4] == flags[:4] and command[position + 4] == flags[4]
    return command[:position] + ["--same-uid"] + command[position + 6:]


class LocalKubelet(ScriptedCluster):
    """Runs the Job's container command as a local process: stdin from the attach,
    the log from its stdout, container paths mapped into a temporary directory."""

    def __init__(self, root):
        super().__init__([])
        self.root = root
        self.proc = None
        self.out = open(os.path.join(root, "stdout"), "w+b")  # noqa: SIM115

    def create_namespaced_job(self, namespace, body):
        super().create_namespaced_job(namespace, body)
        (container,) = body["spec"]["template"]["spec"]["containers"]
        mounts = {m["mountPath"]: os.path.join(self.root, m["name"])
                  for m in container["volumeMounts"]}
        for path in mounts.values():
            os.makedirs(path, exist_ok=True)

        def local(arg):
            for path, target in mounts.items():
                if arg == path or arg.startswith(path + "/"):
                    return target + arg[len(path):]
            return arg

        env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               **{e["name"]: local(e["value"]) for e in container["env"]}}
        for var in ("LANG", "PYTHONPATH"):
            if var in os.environ:
                env[var] = os.environ[var]
        self.proc = subprocess.Popen(same_uid([local(a) for a in container["command"]]),
                                     stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=subprocess.PIPE, cwd=local(container["workingDir"]),
                                     env=env, start_new_session=True)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.append(self.proc.stderr.read()),
                         daemon=True).start()

    def delete_namespaced_job(self, name, namespace, **kwargs):
        super().delete_namespaced_job(name, namespace, **kwargs)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.out.close()

    def _pod(self):
        (name, job), = self.jobs.items()
        code = self.proc.poll()
        state = RUNNING if code is None else done(code)
        self.states = [state]
        self.reads = 0
        return super()._pod()

    def attach(self, pod_name):
        super().attach(pod_name)
        kubelet = self

        class Stdin(FakeAttach):
            def write_stdin(self, data):
                kubelet.proc.stdin.write(data)

            def close(self):
                kubelet.proc.stdin.close()

        return Stdin(self)

    def read_namespaced_pod_log(self, name, namespace, container, limit_bytes,
                                _preload_content):
        self.out.flush()
        self.out.seek(0)
        self.log = self.out.read()
        return super().read_namespaced_pod_log(name, namespace, container, limit_bytes,
                                               _preload_content)


def test_real_autograder_through_stdin_and_log(tmp_path, fixture_bundle):
    kubelet = LocalKubelet(str(tmp_path))
    runner = make_runner_for(kubelet, timeout=120, output_bytes=1024 * 1024)
    run = runner.run(fixture_bundle("student_wrong"))
    assert run.outcome is Outcome.SUCCESS, run.message
    assert (run.result["score"], run.result["max_score"]) == (1.0, 3.0)
    # the command's 2>/dev/null kept the autograder's chatter out of the "log"
    assert kubelet.stderr in ([], [b""])


@pytest.mark.docker
def test_init_container_and_sandbox_start_in_a_real_container(docker_client, tmp_path):
    """The pod's two containers, played by Docker on emptyDir-like host directories
    (0777, owned by root): the init container sets owners and modes with CAP_CHOWN alone,
    then the sandbox container starts as root with its three capabilities in the checker's
    0700 home (the runtime enters the working directory before dropping privileges) and
    becomes the checker. Both under the sandbox seccomp profile."""
    image = os.environ.get("BASE_IMAGE", "dlcourse/base:bookworm")
    require_image(docker_client, image)
    manifest = build_job_manifest("dlcourse-grading-x", LIMITS, KubernetesSettings(image=image))
    pod = pod_spec(manifest)
    (init,), (container,) = pod["initContainers"], pod["containers"]
    volumes = {}
    for mount in container["volumeMounts"]:
        path = tmp_path / mount["name"]
        path.mkdir(mode=0o777)
        path.chmod(0o777)
        volumes[str(path)] = {"bind": mount["mountPath"], "mode": "rw"}

    def run(spec, command, **options):
        security = spec["securityContext"]
        return docker_client.containers.run(
            image, command, user=f"{security['runAsUser']}:{security['runAsGroup']}",
            cap_drop=security["capabilities"]["drop"], cap_add=security["capabilities"]["add"],
            security_opt=["no-new-privileges", f"seccomp={sandbox_profile_json()}"],
            read_only=security["readOnlyRootFilesystem"], network_mode="none",
            volumes=volumes, remove=True, **options).decode()

    run(init, init["command"])
    owners = {volumes[str(p)]["bind"]: (p.stat().st_uid, oct(p.stat().st_mode & 0o7777))
              for p in tmp_path.iterdir()}
    assert owners == {path: (uid, oct(int(mode, 8))) for path, (uid, mode)
                      in SCRATCH_OWNERS.items()}
    become_checker = (
        "import os; print(os.getcwd()); os.setgroups([]); "
        f"os.setresgid({CHECKER_UID}, {CHECKER_UID}, {CHECKER_UID}); "
        f"os.setresuid({CHECKER_UID}, {CHECKER_UID}, {CHECKER_UID}); "
        f"os.mkdir({WORKDIR!r}, 0o700); print(os.listdir('.'))")
    out = run(container, ["/bin/sh", "-c", 'exec "$@"', "autograde", "python3", "-I", "-c",
                          become_checker],
              working_dir=container["workingDir"],
              environment={e["name"]: e["value"] for e in container["env"]})
    assert out.split("\n")[:2] == [CHECKER_HOME, "['work']"]
