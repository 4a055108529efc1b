"""Constants and helpers shared by the Helm tests (fixtures live in conftest)."""

from tests.conftest import REPO

CHART = REPO / "helm" / "dlcourse"
Z2JH_VALUES = REPO / "helm" / "jupyterhub-values.yaml"
RELEASE, NAMESPACE = "dlcourse", "dlcourse"
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
        "extraIngress": [{"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"port": 5000}]}],
        "extraEgress": [{"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}],
                         "ports": [{"port": 5432, "protocol": "TCP"}]}],
    }},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
                "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}}},
}


def find(docs, kind, name=None):
    """The one manifest of ``kind`` (and ``name``); fails when there is not exactly one."""
    hits = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(hits) == 1, f"{len(hits)} {kind} named {name}: {[d['metadata'] for d in hits]}"
    return hits[0]

