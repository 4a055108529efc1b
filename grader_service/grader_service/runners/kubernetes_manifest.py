"""The Job manifest of one grading run on Kubernetes (see :mod:`.kubernetes` for the
isolation it gives): the pod's security context, resources, scratch volumes and labels."""

import math
import re

from ..sandbox_protocol import (
    CHECKER_HOME,
    CHECKER_UID,
    SANDBOX_CAPABILITIES,
    STUDENT_HOME,
    STUDENT_UID,
    identity_args,
)
from .base import AUTOGRADE_MODULE

#: The checker's home: the working directory and HOME of the container.
HOME = CHECKER_HOME
#: The checker's private scratch directory (the autograder creates it, mode 0700).
WORKDIR = f"{CHECKER_HOME}/work"
CONTAINER = "autograde"
#: The init container that hands the scratch volumes to their owners.
INIT_CONTAINER = "prepare-scratch"
#: Owner uid (== gid) and mode of each scratch volume, as the docker runner's tmpfs have
#: them: /tmp shared and sticky, each home private to its uid.
SCRATCH_OWNERS = {"/tmp": (0, "1777"), CHECKER_HOME: (CHECKER_UID, "0700"),
                  STUDENT_HOME: (STUDENT_UID, "0700")}
#: Size of each scratch volume (counted against the ephemeral-storage limit).
SCRATCH_SIZES = {"/tmp": "256Mi", CHECKER_HOME: "64Mi", STUDENT_HOME: "64Mi"}
#: Labels on every grading pod; the chart's sandbox NetworkPolicy selects exactly these.
SANDBOX_LABELS = {"app.kubernetes.io/part-of": "dlcourse",
                  "app.kubernetes.io/component": "grading-sandbox"}
#: Label that ties a pod to its Job (the runner finds the pod with it).
JOB_LABEL = "dlcourse/grading-job"


# Docker's own rule (go-units RAMInBytes): 2g == 2gb == 2Gi == 2GiB, always powers of 1024.
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)


def size_to_bytes(size) -> int:
    """Bytes in a Docker size string (``2g``, ``512m``) or a Kubernetes binary quantity
    (``2Gi``); like Docker, every unit is a power of 1024 (``2G`` is ``2Gi`` here)."""
    if isinstance(size, int):
        return size
    match = _SIZE.match(str(size).strip())
    if not match:
        raise ValueError(f"not a memory size: {size!r} (use e.g. 2g or 2Gi)")
    exponent = " kmgtp".index((match.group(2) or " ").lower())
    return int(float(match.group(1)) * 1024 ** exponent)


def bytes_to_quantity(n: int) -> str:
    """The shortest exact Kubernetes quantity for ``n`` bytes: ``2Gi``, ``1536Mi``, ``1000``."""
    for exponent, suffix in ((4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if n and n % 1024 ** exponent == 0:
            return f"{n // 1024 ** exponent}{suffix}"
    return str(n)


def cpu_quantity(cpus: float) -> str:
    return f"{max(1, round(cpus * 1000))}m"


def seccomp_profile(settings) -> dict:
    """The pod's ``seccompProfile``: Localhost when a profile path is set, else RuntimeDefault."""
    if settings.seccomp_profile:
        return {"type": "Localhost", "localhostProfile": settings.seccomp_profile}
    return {"type": "RuntimeDefault"}


def _security_context(capabilities, seccomp):
    """Root in the container, only ``capabilities``, nothing else a container could ask for."""
    return {
        "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False,
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"], "add": list(capabilities)},
        "seccompProfile": dict(seccomp),
    }


def scratch_script(owners=None) -> str:
    """The init container's shell script: each scratch volume's mode, then its owner.

    In that order: root owns a fresh ``emptyDir`` and may chmod it without capabilities;
    after the chown only ``CAP_FOWNER`` could.
    """
    owners = owners or SCRATCH_OWNERS
    return " && ".join(f"chmod {mode} {path} && chown {uid}:{uid} {path}"
                       for path, (uid, mode) in owners.items())


def build_job_manifest(name, limits, settings, scratch_sizes=None) -> dict:
    """The Job for one grading run as a plain dict (no cluster, no client objects).

    Everything that makes the sandbox a sandbox is here, so a test can check it.
    """
    scratch_sizes = scratch_sizes or SCRATCH_SIZES
    resources = {"cpu": cpu_quantity(limits.cpus),
                 "memory": bytes_to_quantity(size_to_bytes(limits.memory)),
                 "ephemeral-storage": settings.ephemeral_storage}
    labels = {**settings.pod_labels, **SANDBOX_LABELS, JOB_LABEL: name,
              "app.kubernetes.io/managed-by": "dlcourse-grader"}
    volumes = [{"name": f"scratch-{i}", "emptyDir": {"sizeLimit": size}}
               for i, size in enumerate(scratch_sizes.values())]
    mounts = [{"name": f"scratch-{i}", "mountPath": path}
              for i, path in enumerate(scratch_sizes)]
    seccomp = seccomp_profile(settings)
    owners = {path: SCRATCH_OWNERS.get(path, (0, "1777")) for path in scratch_sizes}
    # requests == limits on both containers: the pod stays in the Guaranteed QoS class
    init_container = {
        "name": INIT_CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["/bin/sh", "-c", scratch_script(owners)],
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "securityContext": _security_context(["CHOWN"], seccomp),
        "volumeMounts": [dict(m) for m in mounts],
        "terminationMessagePolicy": "File",
    }
    container = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        # stderr to /dev/null: the log endpoint that returns stdout interleaves stderr.
        # -I: no user site, no PYTHON* variables, no script directory on sys.path.
        "command": ["/bin/sh", "-c", 'exec "$@" 2>/dev/null', "autograde",
                    "python", "-I", "-m", AUTOGRADE_MODULE, "--workdir", WORKDIR,
                    *limits.autograde_args(), *identity_args(),
                    "--student-home", STUDENT_HOME],
        "env": [{"name": "HOME", "value": HOME}],
        "workingDir": HOME,
        "stdin": True,
        "stdinOnce": True,
        "tty": False,
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "securityContext": _security_context(SANDBOX_CAPABILITIES, seccomp),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "File",
    }
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False, "hostPID": False, "hostIPC": False,
        "shareProcessNamespace": False,
        "terminationGracePeriodSeconds": 1,
        # no fsGroup: the kubelet would give every scratch volume to that group
        "securityContext": {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False,
                            "seccompProfile": dict(seccomp)},
        "initContainers": [init_container],
        "containers": [container],
        "volumes": volumes,
    }
    optional = {"serviceAccountName": settings.service_account,
                "nodeSelector": settings.node_selector,
                "tolerations": settings.tolerations,
                "priorityClassName": settings.priority_class,
                "runtimeClassName": settings.runtime_class,
                "imagePullSecrets": [{"name": s} for s in settings.image_pull_secrets]}
    pod_spec.update({k: v for k, v in optional.items() if v})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": dict(labels)},
        "spec": {
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            "activeDeadlineSeconds": math.ceil(settings.start_timeout + limits.timeout + 60),
            "ttlSecondsAfterFinished": settings.ttl_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
