"""The dlcourse chart: lint, Kubernetes schemas, and the security claims it makes.

Rendered for the default values and for POSTGRES_VALUES (three replicas on PostgreSQL,
Jobs in their own namespace, z2jh in another one). The runner's Job manifest is checked
against the same NetworkPolicy and Role, so the chart and
grader_service/runners/kubernetes.py cannot drift apart.
"""

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from helm_testing import (
    API_SERVER_CIDRS,
    CHART,
    DEFAULT_SANDBOX_NAMESPACE,
    KUBE_VERSIONS,
    NAMESPACE,
    POSTGRES_VALUES,
    find,
    with_api_server,
    z2jh_pod_labels,
)

from grader_service import config as service_config
from grader_service.runners import SandboxLimits, seccomp
from grader_service.runners import kubernetes as k8s_runner
from grader_service.runners import kubernetes_manifest as k8s_manifest
from grader_service.runners.kubernetes_settings import KubernetesSettings
from tests.conftest import REPO

VALUE_SETS = {"default": {}, "postgres": POSTGRES_VALUES}


@pytest.fixture(params=sorted(VALUE_SETS), scope="module")
def case(request, render):
    """``(values, rendered manifests)`` for each value set."""
    values = VALUE_SETS[request.param]
    return values, render(values)


def namespaces(values):
    release = NAMESPACE
    return {"release": release,
            "sandbox": values.get("sandbox", {}).get("namespace") or DEFAULT_SANDBOX_NAMESPACE,
            "hub": values.get("jupyterhub", {}).get("namespace") or release}


def env_of(docs):
    """The grading service's environment as the ConfigMap and Deployment give it."""
    return find(docs, "ConfigMap", "dlcourse-grader-env")["data"]


def runner_job(docs):
    """The Job the runner would create with the settings the chart passes it."""
    env = env_of(docs)
    settings = KubernetesSettings.from_config(service_config.from_env(env))
    limits = SandboxLimits.from_config(service_config.from_env(env))
    return k8s_manifest.build_job_manifest("dlcourse-grading-0123456789ab", limits, settings)


def selects(selector, labels):
    """A plain matchLabels selector matches ``labels``."""
    assert set(selector) <= {"matchLabels"}, f"unexpected selector form {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def grader_pod_labels(docs):
    return find(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]


def z2jh_pod(component, values):
    """The labels a z2jh pod of ``component`` carries (helm_testing.z2jh_pod_labels)."""
    jh = {"name": "jupyterhub", "release": "jupyterhub", **values.get("jupyterhub", {})}
    return {**z2jh_pod_labels(component, jh["name"], jh["release"]),
            "hub.jupyter.org/network-access-hub": "true"}


def helm_test_pod(docs):
    return find(docs, "Pod", "dlcourse-test-connection")


# --- lint and schemas -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_lint_is_clean(helm, name):
    report = helm.lint(str(CHART), with_api_server(VALUE_SETS[name]), strict=True,
                       namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_manifest_passes_the_kubernetes_schema(case, kube_validate, version):
    _values, docs = case
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        if doc["apiVersion"] == "monitoring.coreos.com/v1":  # a CRD: no upstream schema
            assert doc["kind"] in ("ServiceMonitor", "PrometheusRule") and doc["spec"]
            continue
        kube_validate.validate(doc, version, strict=True)
    assert {"Deployment", "Service", "ConfigMap", "Role", "RoleBinding", "ServiceAccount",
            "NetworkPolicy", "Secret", "Namespace", "Pod"} <= kinds


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_the_runners_job_passes_the_kubernetes_schema(case, kube_validate, version):
    kube_validate.validate(runner_job(case[1]), version, strict=True)


def test_unknown_and_wrong_values_are_refused(render, helm):
    with pytest.raises(helm.HelmValuesError, match="additional properties"):
        render({"grader": {"replica": 2}})
    with pytest.raises(helm.HelmValuesError):
        render({"sandbox": {"limits": {"memory": "lots"}}})


@pytest.mark.parametrize("values, message", [
    ({"grader": {"replicas": 2}}, "PostgreSQL"),
    ({"grader": {"replicas": 2, "database": {"url": "postgresql+psycopg://g@db/g"}}},
     "ReadWriteMany"),
    ({"grader": {"replicas": 2, "database": {"url": "postgresql+psycopg://g@db/g"},
                 "persistence": {"enabled": False}}}, "persistence"),
    ({"jupyterhub": {"namespace": "jhub"}}, "own namespace"),
])
def test_installs_that_cannot_work_fail_with_a_reason(render, helm, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


def test_schema_describes_every_value(render):
    schema = render.chart.schema
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(value, node, path):
        assert node.get("description"), f"{path}: no description in values.schema.json"
        if isinstance(value, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, child in value.items():
                assert key in node["properties"], f"{path}.{key} missing from the schema"
                walk(child, node["properties"][key], f"{path}.{key}")

    walk(values, schema, "values")


# --- the sandbox ------------------------------------------------------------------------


def test_sandbox_policy_denies_everything_for_the_runners_pods(case):
    values, docs = case
    job = runner_job(docs)
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    sandbox = [p for p in policies if selects(p["spec"]["podSelector"], pod_labels)]
    assert len(sandbox) == 1, "exactly one NetworkPolicy may select grading pods"
    (policy,) = sandbox
    assert policy["metadata"]["namespace"] == job["metadata"]["namespace"] \
        == namespaces(values)["sandbox"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"].get("ingress", []) == []
    assert policy["spec"].get("egress", []) == []
    assert policy["spec"]["podSelector"]["matchLabels"] == k8s_manifest.SANDBOX_LABELS


def test_runners_job_runs_where_the_chart_prepared(case):
    values, docs = case
    job = runner_job(docs)
    pod = job["spec"]["template"]["spec"]
    ns = namespaces(values)["sandbox"]
    account = find(docs, "ServiceAccount", pod["serviceAccountName"])
    assert account["metadata"]["namespace"] == ns
    assert account["automountServiceAccountToken"] is False
    assert not any(b["subjects"][0]["name"] == pod["serviceAccountName"]
                   for b in docs if b["kind"] == "RoleBinding"), "the sandbox has no rights"
    sandbox = values.get("sandbox", {})
    limits = {"memory": "2Gi", "cpu": 1, **sandbox.get("limits", {})}
    resources = pod["containers"][0]["resources"]
    assert resources["limits"] == resources["requests"]
    assert resources["limits"]["memory"] == limits["memory"]
    assert resources["limits"]["cpu"] == f"{int(limits['cpu'] * 1000)}m"
    assert pod.get("nodeSelector", {}) == sandbox.get("nodeSelector", {})
    assert pod.get("runtimeClassName", "") == sandbox.get("runtimeClassName", "")
    assert pod["containers"][0]["image"] == "dlcourse/sandbox:latest"
    assert job["metadata"]["labels"]["app.kubernetes.io/instance"] == "dlcourse"


def test_role_grants_exactly_what_the_runner_calls(case):
    values, docs = case
    role = find(docs, "Role")
    assert role["metadata"]["namespace"] == namespaces(values)["sandbox"]
    granted = {(group, resource, verb) for rule in role["rules"]
               for group in rule["apiGroups"] for resource in rule["resources"]
               for verb in rule["verbs"]}
    assert not any("*" in item for item in granted)
    # every Kubernetes API method the runner's source calls, and the RBAC it needs
    needs = {
        "create_namespaced_job": {("batch", "jobs", "create")},
        "delete_namespaced_job": {("batch", "jobs", "delete")},
        "list_namespaced_pod": {("", "pods", "list")},
        "read_namespaced_pod": {("", "pods", "get")},
        "read_namespaced_pod_log": {("", "pods/log", "get")},
        # a websocket upgrade is a GET; API servers from 1.31 also check `create`
        "connect_get_namespaced_pod_attach": {("", "pods/attach", "get"),
                                              ("", "pods/attach", "create")},
    }
    source = Path(k8s_runner.__file__).read_text()
    called = set(re.findall(r"\.(\w+_namespaced_\w+)\b", source))
    assert called == set(needs), "update this table and the chart's Role together"
    assert granted == set().union(*needs.values())
    binding = find(docs, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    (subject,) = binding["subjects"]
    deployment = find(docs, "Deployment")
    assert subject == {"kind": "ServiceAccount", "namespace": namespaces(values)["release"],
                       "name": deployment["spec"]["template"]["spec"]["serviceAccountName"]}
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


# --- who may talk to whom --------------------------------------------------------------


def peer_kinds(rule, values, docs, policy_ns):
    """Name each peer of an ingress/egress rule: hub, proxy, singleuser, grader, dns,
    or fail on anything broader (no peers, ipBlocks, bare namespaces)."""
    peers = rule.get("to", rule.get("from"))
    assert peers, f"rule without peers allows everything: {rule}"
    ns = namespaces(values)
    kinds = set()
    for peer in peers:
        selector = peer.get("podSelector")
        if selector is None:
            assert peer == {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "kube-system"}}}, f"broad peer {peer}"
            assert {p["port"] for p in rule["ports"]} == {53}
            kinds.add("dns")
            continue
        peer_ns = policy_ns
        if "namespaceSelector" in peer:
            (peer_ns,) = peer["namespaceSelector"]["matchLabels"].values()
        candidates = {
            "hub": (z2jh_pod("hub", values), ns["hub"]),
            "proxy": (z2jh_pod("proxy", values), ns["hub"]),
            "singleuser": (z2jh_pod("singleuser-server", values), ns["hub"]),
            "grader": (grader_pod_labels(docs), ns["release"]),
            "helm-test": (helm_test_pod(docs)["metadata"]["labels"], ns["release"]),
        }
        matched = [k for k, (labels, where) in candidates.items()
                   if where == peer_ns and selects(selector, labels)]
        assert len(matched) == 1, f"peer {peer} matches {matched}"
        kinds.add(matched[0])
    return kinds


def test_singleuser_servers_reach_only_hub_proxy_grader_and_dns(case):
    values, docs = case
    policy = find(docs, "NetworkPolicy", "dlcourse-singleuser")
    ns = namespaces(values)["hub"]
    assert policy["metadata"]["namespace"] == ns
    assert selects(policy["spec"]["podSelector"], z2jh_pod("singleuser-server", values))
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    egress = {}
    for rule in policy["spec"]["egress"]:
        for kind in peer_kinds(rule, values, docs, ns):
            egress.setdefault(kind, set()).update(p["port"] for p in rule["ports"])
    assert egress == {"hub": {8081}, "proxy": {8000}, "grader": {5000}, "dns": {53}}
    ingress = set().union(*(peer_kinds(r, values, docs, ns) for r in policy["spec"]["ingress"]))
    assert ingress == {"hub", "proxy"}


def test_grader_is_reached_from_jupyterhub_pods_and_reaches_the_hub(case):
    values, docs = case
    policy = find(docs, "NetworkPolicy", "dlcourse-grader")
    ns = namespaces(values)["release"]
    assert selects(policy["spec"]["podSelector"], grader_pod_labels(docs))
    base_rule, test_rule, *extra = policy["spec"]["ingress"]
    assert peer_kinds(base_rule, values, docs, ns) == {"hub", "proxy", "singleuser"}
    assert base_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert peer_kinds(test_rule, values, docs, ns) == {"helm-test"}
    assert test_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert extra == values.get("networkPolicy", {}).get("grader", {}).get("extraIngress", [])
    egress = policy["spec"]["egress"]
    assert peer_kinds(egress[0], values, docs, ns) == {"dns"}
    assert peer_kinds(egress[1], values, docs, ns) == {"hub"}
    assert {p["port"] for p in egress[2]["ports"]} == {443, 6443}  # the API server
    cidrs = with_api_server(values)["networkPolicy"]["grader"]["kubeApiServer"]["cidrs"]
    assert [peer["ipBlock"]["cidr"] for peer in egress[2]["to"]] == sorted(cidrs)
    assert len(egress) == 3 + len(values.get("networkPolicy", {}).get("grader", {})
                                  .get("extraEgress", []))
    # z2jh's hub policy admits pods with this label to the hub API
    assert grader_pod_labels(docs)["hub.jupyter.org/network-access-hub"] == "true"


# --- pods and secrets --------------------------------------------------------------------


def pod_specs(docs):
    """``(name, pod spec)`` of every pod the chart renders: workloads' templates, Pods
    (the `helm test` hook) and CronJobs' job templates."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield doc["metadata"]["name"], doc["spec"]
        elif doc["kind"] == "CronJob":
            yield doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers_with_security(spec):
    """``(name, effective securityContext)`` of every container of a pod spec."""
    pod_security = spec.get("securityContext", {})
    for container in spec.get("initContainers", []) + spec["containers"]:
        yield container["name"], {**pod_security, **container.get("securityContext", {})}


#: PodSecurity admission (Kubernetes 1.30), the checks that concern these pods.
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                         "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP",
                         "SETUID", "SYS_CHROOT"}


def pod_security_violations(spec, level):
    """What PodSecurity admission at ``level`` (baseline or restricted) refuses in ``spec``."""
    problems = []
    if any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")):
        problems.append("host namespaces")
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append("hostPath volumes")
    for name, security in containers_with_security(spec):
        added = set(security.get("capabilities", {}).get("add", []))
        if security.get("privileged"):
            problems.append(f"{name}: privileged")
        if not added <= BASELINE_CAPABILITIES:
            problems.append(f"{name}: adds {sorted(added - BASELINE_CAPABILITIES)}")
        if security.get("seccompProfile", {}).get("type") == "Unconfined":
            problems.append(f"{name}: seccomp Unconfined")
        if security.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount")
        if level != "restricted":
            continue
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation")
        if security.get("runAsNonRoot") is not True or security.get("runAsUser") == 0:
            problems.append(f"{name}: runs as root")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: does not drop ALL capabilities")
        if not added <= {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
        if security.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: no seccomp profile")
    return problems


def test_the_grading_service_runs_as_a_restricted_non_root_pod(case):
    """The grading service and the `helm test` Pod, the chart's only pods."""
    _values, docs = case
    specs = list(pod_specs(docs))
    assert sorted(name for name, _ in specs) == ["dlcourse-grader", "dlcourse-test-connection"]
    for name, spec in specs:
        assert pod_security_violations(spec, "restricted") == []
        for container, security in containers_with_security(spec):
            where = f"{name}/{container}"
            assert security.get("runAsNonRoot") is True, where
            assert security.get("runAsUser", 0) != 0, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not security.get("privileged"), where
            assert security.get("seccompProfile") == {"type": "RuntimeDefault"}, where


def test_the_grading_service_has_requests_and_a_memory_limit(case):
    """Uploads are unpacked in the grading service: its container always has a memory
    limit (the schema requires one) and reserves what it needs."""
    _values, docs = case
    deployment = find(docs, "Deployment", "dlcourse-grader")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                      "limits": {"memory": "1Gi"}}


@pytest.mark.parametrize("resources", [{"limits": {"memory": None}},
                                       {"limits": {"memroy": "1Gi"}},
                                       {"limits": {"memory": "lots"}}])
def test_grading_service_without_a_memory_limit_is_refused(render, helm, resources):
    with pytest.raises(helm.HelmValuesError, match="limits"):
        render({"grader": {"resources": resources}})


def test_grading_pods_start_as_root_with_three_capabilities_only(case):
    """The uid split needs root and SETUID/SETGID/KILL: PodSecurity `baseline` admits
    that, `restricted` does not (the README says to label the sandbox namespace so)."""
    _values, docs = case
    spec = runner_job(docs)["spec"]["template"]["spec"]
    assert pod_security_violations(spec, "baseline") == []
    assert pod_security_violations(spec, "restricted") == [
        "prepare-scratch: runs as root", "prepare-scratch: adds capabilities",
        "autograde: runs as root", "autograde: adds capabilities"]
    added = {}
    for name, security in containers_with_security(spec):
        assert security["runAsUser"] == security["runAsGroup"] == 0, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        assert security["privileged"] is False, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        added[name] = security["capabilities"]["add"]
    assert added == {"prepare-scratch": ["CHOWN"], "autograde": ["SETUID", "SETGID", "KILL"]}
    assert "fsGroup" not in spec["securityContext"]
    assert spec["shareProcessNamespace"] is False
    assert spec["automountServiceAccountToken"] is False


def test_sandbox_profile_ships_in_a_configmap(render):
    docs = render()
    configmap = find(docs, "ConfigMap", "dlcourse-sandbox-seccomp")
    assert json.loads(configmap["data"]["sandbox.json"]) == seccomp.sandbox_profile()
    assert configmap["metadata"]["annotations"]["dlcourse/kubelet-seccomp-path"] == (
        "/var/lib/kubelet/seccomp/dlcourse/sandbox.json")
    other = render({"sandbox": {"namespace": "dlcourse-grading",
                                "seccomp": {"configMap": False,
                                            "localhostProfile": "dlcourse/sandbox.json",
                                            "type": "RuntimeDefault"}}})
    assert [d for d in other if d["kind"] == "ConfigMap"] == [find(other, "ConfigMap")]
    moved = render({"sandbox": {"namespace": "dlcourse-grading"}})
    assert find(moved, "ConfigMap", "dlcourse-sandbox-seccomp")["metadata"][
        "namespace"] == "dlcourse-grading"


def test_localhost_seccomp_reaches_the_grading_pods(render):
    docs = render({"sandbox": {"seccomp": {"type": "Localhost",
                                           "localhostProfile": "profiles/grading.json"}}})
    assert env_of(docs)["GRADER_K8S_SECCOMP_PROFILE"] == "profiles/grading.json"
    spec = runner_job(docs)["spec"]["template"]["spec"]
    localhost = {"type": "Localhost", "localhostProfile": "profiles/grading.json"}
    for name, security in containers_with_security(spec):
        assert security["seccompProfile"] == localhost, name
    assert env_of(render())["GRADER_K8S_SECCOMP_PROFILE"] == ""


@pytest.mark.parametrize("bad", [{"type": "Unconfined"}, {"localhostProfile": "../etc/x.json"},
                                 {"localhostProfile": "/var/lib/kubelet/seccomp/x.json"},
                                 {"localhostProfile": ""}])
def test_seccomp_values_are_checked(render, helm, bad):
    with pytest.raises(helm.HelmValuesError):
        render({"sandbox": {"seccomp": bad}})


def test_secrets_never_appear_outside_secrets(render):
    token, password = "tok-SECRET-0123456789abcdef", "pw-SECRET-98765"
    values = {"grader": {"hubApiToken": {"value": token},
                         "database": {"url": f"postgresql+psycopg://grader:{password}@db/g"}}}
    docs = render(values)
    secrets = [d for d in docs if d["kind"] == "Secret"]
    decoded = "".join(base64.b64decode(v).decode() for s in secrets for v in s["data"].values())
    assert token in decoded and password in decoded and "PRIVATE KEY" in decoded
    for doc in docs:
        if doc["kind"] == "Secret":
            continue
        text = yaml.safe_dump(doc)
        for secret in (token, password, "PRIVATE KEY", base64.b64encode(token.encode()).decode()):
            assert secret not in text, f"{doc['kind']} {doc['metadata']['name']} leaks it"
    config = env_of(docs)
    assert not {"JUPYTERHUB_API_TOKEN", "GRADER_DATABASE_URL"} & set(config)
    env = {e["name"]: e for e in find(docs, "Deployment")["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    for name in ("JUPYTERHUB_API_TOKEN", "GRADER_DATABASE_URL"):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]


def test_generated_signing_key_is_a_kept_ed25519_key(render):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    docs = render()
    secret = find(docs, "Secret", "dlcourse-grader-signing-key")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pem = base64.b64decode(secret["data"]["signing_key.pem"])
    assert isinstance(serialization.load_pem_private_key(pem, None), Ed25519PrivateKey)
    volumes = find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    key_volume = next(v for v in volumes if v["name"] == "signing-key")
    assert key_volume["secret"]["secretName"] == "dlcourse-grader-signing-key"
    assert env_of(docs)["GRADER_SIGNING_KEY_FILE"].endswith(
        "/" + key_volume["secret"]["items"][0]["path"])


def test_existing_signing_key_is_used_and_none_generated(render):
    docs = render(POSTGRES_VALUES)
    assert not [d for d in docs if d["metadata"]["name"].endswith("-signing-key")]
    volumes = find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    key_volume = next(v for v in volumes if v["name"] == "signing-key")["secret"]
    assert key_volume["secretName"] == "grader-signing"
    assert key_volume["items"] == [{"key": "key.pem", "path": "signing_key.pem"}]


# --- the grading service's configuration --------------------------------------------------


def test_service_settings_come_from_values(case):
    values, docs = case
    env = env_of(docs)
    known = {var for var, *_ in service_config.SETTINGS.values()}
    grader_vars = {k for k in env if k.startswith("GRADER_")}
    assert grader_vars <= known, f"unknown settings {grader_vars - known}"
    config = service_config.from_env(env)
    assert config["RUNNER"] == "kubernetes"
    assert config["DATA_DIR"] == "/srv/grader"
    hub_ns = namespaces(values)["hub"]
    assert config["HUB_API_URL"] == ("http://hub:8081/hub/api" if hub_ns == NAMESPACE
                                     else f"http://hub.{hub_ns}.svc:8081/hub/api")
    assert config["SERVICE_PREFIX"] == "/services/grader/"
    grader = values.get("grader", {})
    assert config["WORKERS"] == grader.get("config", {}).get("workers", 4)
    # behind a TLS ingress by default: the results page's cookie is Secure
    assert config["COOKIE_SECURE"] is grader.get("config", {}).get("cookieSecure", True)
    assert config["SANDBOX_TIMEOUT"] == values.get("sandbox", {}).get("limits", {}).get(
        "timeoutSeconds", 300)
    if "identityCacheSeconds" in grader.get("config", {}):
        assert config["IDENTITY_CACHE_SECONDS"] == 2.5
    else:
        assert "GRADER_IDENTITY_CACHE_SECONDS" not in env  # null: the service default


def test_postgres_replicas_roll_and_share_their_volume(render):
    docs = render(POSTGRES_VALUES)
    deployment = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GRADER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "grader-db",
                                                                       "key": "url"}
    assert env["LMS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "lms"
    assert find(docs, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    assert find(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    monitor = find(docs, "ServiceMonitor", "dlcourse-grader")
    assert selects(monitor["spec"]["selector"], find(docs, "Service")["metadata"]["labels"])
    rule = find(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    # the same alerts Ansible installs, their templates left for Prometheus
    assert rule["spec"] == yaml.safe_load(
        (REPO / "ansible/roles/monitoring/files/alert-rules.yml").read_text())
    # the rules find the grading service by its scrape job, named after the Service
    assert re.fullmatch(".+-grader", find(docs, "Service")["metadata"]["name"])


def test_default_install_is_one_replica_on_sqlite(render):
    docs = render()
    deployment = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "GRADER_DATABASE_URL" not in env
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "hub", "key": "hub.services.grader.apiToken"}
    assert not [d for d in docs if d["kind"] in ("PodDisruptionBudget", "ServiceMonitor",
                                                 "PrometheusRule")]
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    probes = template["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/health"
    assert probes["startupProbe"]["httpGet"]["path"] == "/health"
    assert find(docs, "Service")["spec"]["selector"].items() <= template["metadata"][
        "labels"].items()


def test_notes_name_the_service_and_the_key_backup(render):
    notes = render.notes()
    assert "http://dlcourse-grader:5000" in notes
    assert "dlcourse-grader-signing-key" in notes
    assert "WITH network access" in render.notes({"networkPolicy": {"enabled": False}})
    assert "enforce=baseline" in notes
    assert "lets student processes ptrace each other" in notes
    localhost = render.notes({"sandbox": {"seccomp": {"type": "Localhost",
                                                      "localhostProfile": "dl/s.json"}}})
    assert "dl/s.json must exist" in localhost and "ptrace each other" not in localhost


# --- the sandbox namespace ------------------------------------------------------------------


def test_grading_jobs_get_a_namespace_of_their_own_by_default(render):
    """Default: Jobs in <release namespace>-sandbox, created with PodSecurity baseline;
    the Role, the sandbox's policy, account and seccomp ConfigMap there, and nothing
    RBAC in the release's (= z2jh's) namespace."""
    docs = render()
    sandbox = DEFAULT_SANDBOX_NAMESPACE
    assert sandbox == f"{NAMESPACE}-sandbox"
    namespace = find(docs, "Namespace")
    assert namespace["metadata"]["name"] == sandbox
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"
    # the grading pods the runner builds pass that level (and would fail restricted)
    assert pod_security_violations(runner_job(docs)["spec"]["template"]["spec"],
                                   "baseline") == []
    placed = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("namespace")
              for d in docs}
    assert placed[("Role", "dlcourse-grader-jobs")] == sandbox
    assert placed[("RoleBinding", "dlcourse-grader-jobs")] == sandbox
    assert placed[("NetworkPolicy", "dlcourse-sandbox")] == sandbox
    assert placed[("ServiceAccount", "dlcourse-sandbox")] == sandbox
    assert placed[("ConfigMap", "dlcourse-sandbox-seccomp")] == sandbox
    rbac = [d for d in docs if d["kind"] in ("Role", "RoleBinding", "ClusterRole",
                                             "ClusterRoleBinding")]
    assert {d["metadata"].get("namespace") for d in rbac} == {sandbox}
    # the grading service is told, and the runner creates its Jobs there
    assert env_of(docs)["GRADER_K8S_NAMESPACE"] == sandbox
    assert runner_job(docs)["metadata"]["namespace"] == sandbox
    # the grading service itself stays in the release namespace
    assert placed[("Deployment", "dlcourse-grader")] == NAMESPACE


def test_nothing_rbac_outside_the_sandbox_namespace(case):
    values, docs = case
    ns = namespaces(values)
    assert ns["sandbox"] not in (ns["release"], ns["hub"])
    for doc in docs:
        if doc["kind"] in ("Role", "RoleBinding"):
            assert doc["metadata"]["namespace"] == ns["sandbox"], doc["metadata"]
        assert doc["kind"] not in ("ClusterRole", "ClusterRoleBinding")


def test_an_existing_sandbox_namespace_is_not_created(render):
    docs = render({"sandbox": {"namespace": "grading", "createNamespace": False}})
    assert not [d for d in docs if d["kind"] == "Namespace"]
    assert find(docs, "Role")["metadata"]["namespace"] == "grading"
    assert env_of(docs)["GRADER_K8S_NAMESPACE"] == "grading"


@pytest.mark.parametrize("values, message", [
    ({"sandbox": {"namespace": NAMESPACE}}, "is z2jh's namespace"),
    ({"sandbox": {"namespace": "jhub"},
      "jupyterhub": {"namespace": "jhub"},
      "grader": {"hubApiToken": {"value": "t"}}}, "is z2jh's namespace"),
    ({"sandbox": {"namespace": NAMESPACE}, "jupyterhub": {"namespace": "jhub"},
      "grader": {"hubApiToken": {"value": "t"}}}, "is this release's namespace"),
])
def test_the_sandbox_never_shares_a_namespace_with_secrets(render, helm, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


# --- egress to the API server ------------------------------------------------------------


def test_without_api_server_addresses_the_install_fails_and_says_how(render, helm):
    """Empty cidrs and nothing to look up (helm template, --dry-run): a clear failure,
    never an open egress rule."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["networkPolicy"]["grader"]["kubeApiServer"]["cidrs"] == []
    with pytest.raises(helm.HelmRenderError) as failure:
        render(api_server=False)
    message = str(failure.value)
    assert "networkPolicy.grader.kubeApiServer.cidrs" in message
    assert ("kubectl get endpointslices -n default -l "
            "kubernetes.io/service-name=kubernetes -o jsonpath=") in message
    # with the grading service's policy off there is nothing to look up
    docs = render({"networkPolicy": {"grader": {"enabled": False}}}, api_server=False)
    assert not [d for d in docs if d["metadata"]["name"] == "dlcourse-grader"
                and d["kind"] == "NetworkPolicy"]


def test_no_egress_is_open_to_every_address(case):
    values, docs = case
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policies
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), f"{policy['metadata']['name']}: egress rule without peers"
            for peer in rule["to"]:
                cidr = peer.get("ipBlock", {}).get("cidr", "")
                assert not cidr.endswith("/0"), f"{policy['metadata']['name']}: {cidr}"


def test_api_server_cidrs_are_rendered_as_given(render):
    docs = render({"networkPolicy": {"grader": {"kubeApiServer": {
        "cidrs": ["198.51.100.7/32", "2001:db8::1/128"], "ports": [6443]}}}})
    (rule,) = [r for r in find(docs, "NetworkPolicy", "dlcourse-grader")["spec"]["egress"]
               if any("ipBlock" in peer for peer in r["to"])]
    assert rule["to"] == [{"ipBlock": {"cidr": "198.51.100.7/32"}},
                          {"ipBlock": {"cidr": "2001:db8::1/128"}}]
    assert rule["ports"] == [{"port": 6443, "protocol": "TCP"}]
    assert API_SERVER_CIDRS == ["192.0.2.10/32"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.0.0.1", "everywhere"])
def test_open_or_malformed_api_server_cidrs_are_refused(render, helm, cidr):
    with pytest.raises(helm.HelmValuesError):
        render({"networkPolicy": {"grader": {"kubeApiServer": {"cidrs": [cidr]}}}})


# --- z2jh's labels ------------------------------------------------------------------------


def z2jh_selectors(docs):
    """Every selector of the chart's NetworkPolicies and ServiceMonitors that is meant
    for z2jh's pods or Services: ``(where, matchLabels)``."""
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "ServiceMonitor":
            yield f"{doc['metadata']['name']}.selector", spec["selector"]["matchLabels"]
        if doc["kind"] != "NetworkPolicy":
            continue
        yield f"{doc['metadata']['name']}.podSelector", spec["podSelector"].get(
            "matchLabels", {})
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction, []):
                for peer in rule.get("from", rule.get("to", [])):
                    if "podSelector" in peer:
                        yield (f"{doc['metadata']['name']}.{direction}",
                               peer["podSelector"].get("matchLabels", {}))


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_z2jh_pods_are_selected_by_their_app_kubernetes_io_labels(render, name):
    """No selector uses z2jh's legacy `app`/`release`/`component` labels; the ones for
    z2jh's hub, proxy and single-user pods use exactly name, instance and component."""
    docs = render({**VALUE_SETS[name], "metrics": {"serviceMonitor": {"enabled": True}}})
    z2jh = {}
    for where, labels in z2jh_selectors(docs):
        # (an `app` label of the user's own extra rules, e.g. app: postgres, is theirs)
        assert not {"release", "component", "heritage", "chart"} & set(labels), where
        assert labels.get("app") != "jupyterhub", where
        if labels.get("app.kubernetes.io/instance") == "jupyterhub":
            z2jh.setdefault(labels["app.kubernetes.io/component"], []).append(where)
            assert labels == {"app.kubernetes.io/name": "jupyterhub",
                              "app.kubernetes.io/instance": "jupyterhub",
                              "app.kubernetes.io/component": labels[
                                  "app.kubernetes.io/component"]}, where
    assert set(z2jh) == {"hub", "proxy", "singleuser-server"}
    # the hub is selected by the grader's and single-user egress, the hub's ServiceMonitor
    assert {"dlcourse-hub.selector", "dlcourse-grader.egress",
            "dlcourse-singleuser.egress"} <= set(z2jh["hub"])


def test_z2jh_name_and_release_reach_the_selectors(render):
    docs = render({"jupyterhub": {"name": "hub2", "release": "course-hub"},
                   "metrics": {"serviceMonitor": {"enabled": True}}})
    policy = find(docs, "NetworkPolicy", "dlcourse-singleuser")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "hub2", "app.kubernetes.io/instance": "course-hub",
        "app.kubernetes.io/component": "singleuser-server"}
    monitor = find(docs, "ServiceMonitor", "dlcourse-hub")
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == (
        "course-hub")


def test_the_removed_app_label_value_explains_itself(render, helm):
    with pytest.raises(helm.HelmRenderError, match="appLabel was removed.*jupyterhub.name"):
        render({"jupyterhub": {"appLabel": "jupyterhub"}})


# --- no privileged containers ---------------------------------------------------------------

#: The only capabilities any pod of this deployment adds (README "Grading Jobs").
DOCUMENTED_CAPABILITIES = {"autograde": {"SETUID", "SETGID", "KILL"},
                           "prepare-scratch": {"CHOWN"}}


def test_no_pod_is_privileged_or_adds_undocumented_capabilities(case):
    """Every pod the chart renders and the runner's grading pod: nothing privileged, no
    privilege escalation, and no capability beyond the grading pods' documented ones."""
    _values, docs = case
    specs = [*pod_specs(docs), ("grading-job", runner_job(docs)["spec"]["template"]["spec"])]
    assert len(specs) == 3
    seen = {}
    for pod, spec in specs:
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), pod
        for container, security in containers_with_security(spec):
            where = f"{pod}/{container}"
            assert security.get("privileged", False) is False, where
            assert security.get("allowPrivilegeEscalation") is False, where
            added = set(security.get("capabilities", {}).get("add", []))
            assert added <= DOCUMENTED_CAPABILITIES.get(container, set()), where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            seen[container] = added
    assert seen["autograde"] == DOCUMENTED_CAPABILITIES["autograde"]
    assert seen["prepare-scratch"] == DOCUMENTED_CAPABILITIES["prepare-scratch"]
    assert seen["grader"] == seen["check"] == set()


# --- helm test ------------------------------------------------------------------------------


def test_helm_test_pod_is_a_restricted_hook(case):
    values, docs = case
    pod = helm_test_pod(docs)
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation", "hook-succeeded"}
    spec = pod["spec"]
    assert pod_security_violations(spec, "restricted") == []
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    (container,) = spec["containers"]
    assert container["image"] == find(docs, "Deployment")["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # standard library only: python -c with urllib, against the Service and the hub API
    assert container["command"][:2] == ["python", "-c"]
    script = container["command"][2]
    assert "urllib.request" in script and "subprocess" not in script
    compile(script, "helm-test", "exec")
    env = {e["name"]: e["value"] for e in container["env"]}
    service = find(docs, "Service")
    host = service["metadata"]["name"]
    assert env["GRADER_HEALTH_URL"] == f"http://{host}:{service['spec']['ports'][0]['port']}/health"
    assert env["HUB_API_URL"] == env_of(docs)["JUPYTERHUB_API_URL"] + "/"
    # z2jh's hub policy lets it in; it is no z2jh pod and no grading pod
    labels = pod["metadata"]["labels"]
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    assert labels["app.kubernetes.io/component"] == "helm-test"


def test_helm_test_pod_is_admitted_by_the_grader_and_selected_by_no_policy(case):
    values, docs = case
    labels = helm_test_pod(docs)["metadata"]["labels"]
    release_ns = namespaces(values)["release"]
    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        if policy["metadata"]["namespace"] == release_ns:
            assert not selects(policy["spec"]["podSelector"], labels), policy["metadata"]
    grader = find(docs, "NetworkPolicy", "dlcourse-grader")
    admitting = [r for r in grader["spec"]["ingress"]
                 if any(selects(peer["podSelector"], labels) and "namespaceSelector" not in peer
                        for peer in r["from"] if "podSelector" in peer)]
    assert len(admitting) == 1 and admitting[0]["ports"] == [{"port": "http",
                                                              "protocol": "TCP"}]
    # and it does not pass for a grading service, a grading pod or a z2jh pod
    assert not selects(grader["spec"]["podSelector"], labels)
    assert not labels.items() >= k8s_manifest.SANDBOX_LABELS.items()
    assert "app.kubernetes.io/instance" in labels and labels[
        "app.kubernetes.io/instance"] != "jupyterhub"


def test_helm_test_can_be_switched_off(render):
    docs = render({"helmTest": {"enabled": False}})
    assert not [d for d in docs if d["kind"] == "Pod"]
    ingress = find(docs, "NetworkPolicy", "dlcourse-grader")["spec"]["ingress"]
    assert len(ingress) == 1
