"""Constants and helpers shared by the Helm tests (fixtures live in conftest)."""

import copy
import re

from tests.conftest import REPO

CHART = REPO / "helm" / "dlcourse"
Z2JH_VALUES = REPO / "helm" / "jupyterhub-values.yaml"
RELEASE, NAMESPACE = "dlcourse", "dlcourse"
#: the grading Jobs' namespace when sandbox.namespace is empty
DEFAULT_SANDBOX_NAMESPACE = f"{NAMESPACE}-sandbox"
README = REPO / "helm" / "README.md"


def z2jh_version():
    """The Zero to JupyterHub chart version helm/README.md is written for (its
    ``**z2jh version: X.Y.Z**`` line): the tests' knowledge of z2jh's labels, Service
    and keys is that version's, so README and tests cannot drift apart."""
    (version,) = re.findall(r"\*\*z2jh version: (\d+\.\d+\.\d+)\*\*", README.read_text())
    return version


Z2JH_VERSION = z2jh_version()

#: What the test renders put where the chart would look up the API server's endpoints
#: (helm-python-sdk, like `helm template`, has no cluster to look them up in).
API_SERVER_CIDRS = ["192.0.2.10/32"]


def with_api_server(values, cidrs=API_SERVER_CIDRS):
    """``values`` plus networkPolicy.grader.kubeApiServer.cidrs, unless they set it."""
    values = copy.deepcopy(values or {})
    api = values.setdefault("networkPolicy", {}).setdefault("grader", {}).setdefault(
        "kubeApiServer", {})
    api.setdefault("cidrs", list(cidrs))
    return values
#: the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema
KUBE_VERSIONS = ("1.30.0", "1.37.0")

#: PostgreSQL, three replicas on a shared volume, grading Jobs in their own namespace,
#: z2jh in another one, ServiceMonitor, inline token: every optional branch of the chart.
POSTGRES_VALUES = {
    "jupyterhub": {"namespace": "jhub"},
    "grader": {
        "replicas": 3,
        "image": {"name": "registry.example.edu/dlcourse/grader", "tag": "0.2.0"},
        "database": {"existingSecret": "grader-db", "key": "url"},
        "hubApiToken": {"value": "tok-0123456789abcdef-SECRET"},
        "signingKey": {"existingSecret": "grader-signing", "key": "key.pem"},
        "persistence": {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs",
                        "size": "50Gi"},
        "config": {"workers": 8, "leaseSeconds": 90, "identityCacheSeconds": 2.5},
        "extraEnv": {"LMS_TOKEN": {"valueFrom": {"secretKeyRef": {"name": "lms",
                                                                  "key": "token"}}}},
    },
    "sandbox": {
        "namespace": "dlcourse-grading",
        "nodeSelector": {"dlcourse/node-purpose": "grading"},
        "tolerations": [{"key": "dlcourse/grading", "operator": "Exists",
                         "effect": "NoSchedule"}],
        "runtimeClassName": "gvisor",
        "limits": {"memory": "3Gi", "cpu": 2, "timeoutSeconds": 600},
    },
    "imagePullSecrets": ["regcred"],
    "networkPolicy": {"grader": {
        "kubeApiServer": {"cidrs": ["192.0.2.10/32", "192.0.2.11/32", "2001:db8::10/128"]},
        "extraIngress": [{"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"port": 5000}]}],
        "extraEgress": [{"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}],
                         "ports": [{"port": 5432, "protocol": "TCP"}]}],
    }},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
                "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}}},
}


def z2jh_pod_labels(component, name="jupyterhub", release="jupyterhub"):
    """The labels z2jh (Z2JH_VERSION) puts on its pods of ``component``: hub and proxy
    pods get its matchLabelsLegacyAndModern labels; single-user pods get
    KubeSpawner 7's `component` and `app.kubernetes.io/component` plus z2jh's
    common_labels (`app`, `release`, `app.kubernetes.io/name`, `.../instance`)."""
    major = int(Z2JH_VERSION.split(".")[0])
    assert major >= 4, "z2jh before 4.0 has no app.kubernetes.io labels on its pods"
    legacy = {"app": name, "release": release, "component": component}
    modern = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release,
              "app.kubernetes.io/component": component}
    return {**legacy, **modern}


#: z2jh's Service `hub` (Z2JH_VERSION, fullnameOverride ""), as far as a ServiceMonitor
#: sees it: its labels (z2jh's `jupyterhub.labels`), port 8081 to the container's 8081.
def z2jh_hub_service(name="jupyterhub", release="jupyterhub"):
    return {"name": "hub",
            "labels": {**z2jh_pod_labels("hub", name, release),
                       "app.kubernetes.io/managed-by": "Helm",
                       "helm.sh/chart": f"jupyterhub-{Z2JH_VERSION}",
                       "chart": f"jupyterhub-{Z2JH_VERSION}", "heritage": "Helm"},
            "ports": [{"name": "hub", "port": 8081, "targetPort": 8081}]}


def find(docs, kind, name=None):
    """The one manifest of ``kind`` (and ``name``); fails when there is not exactly one."""
    hits = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(hits) == 1, f"{len(hits)} {kind} named {name}: {[d['metadata'] for d in hits]}"
    return hits[0]

