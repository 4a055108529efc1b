"""helm/jupyterhub-values.yaml, the values for the official Zero to JupyterHub chart.

That chart cannot be fetched here, so these tests check what can be checked offline:
the file parses, it names the same images, Service, Secret and labels as the rendered
dlcourse chart, the hub's extraConfig runs against course_hub and puts ROLL_NUMBER in
the spawner environment, and no secret is written in it.
"""

import asyncio
import importlib.util
import re
import sys
import tomllib
import types

import pytest
import yaml
from helm_testing import REPO, Z2JH_VERSION, find
from traitlets.config import Config

from grader_service import config as service_config
from tests.conftest import require


@pytest.fixture(scope="module")
def chart(render):
    """The dlcourse chart rendered with its defaults (release and namespace dlcourse)."""
    return render()


@pytest.fixture(scope="module")
def chart_values():
    import yaml

    return yaml.safe_load((REPO / "helm" / "dlcourse" / "values.yaml").read_text())


def image(spec):
    return f"{spec['name']}:{spec['tag']}"


def grader_url(chart):
    service = find(chart, "Service")
    return f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"


def test_images_are_ours(z2jh_values, chart_values):
    hub, singleuser = z2jh_values["hub"], z2jh_values["singleuser"]
    assert image(hub["image"]) == "dlcourse/hub:latest"
    assert image(singleuser["image"]) == "dlcourse/singleuser:latest"
    (seed,) = singleuser["initContainers"]
    assert seed["image"] == image(singleuser["image"])
    pulled = {image(i) for i in z2jh_values["prePuller"]["extraImages"].values()}
    assert image(chart_values["sandbox"]["image"]) in pulled
    assert z2jh_values["prePuller"]["hook"]["enabled"]
    assert z2jh_values["prePuller"]["continuous"]["enabled"]


def test_grader_service_url_token_and_names_match_the_chart(z2jh_values, chart_values, chart):
    hub = z2jh_values["hub"]
    name = chart_values["jupyterhub"]["serviceName"]
    service = hub["services"][name]
    assert service["url"] == hub["extraEnv"]["GRADER_SERVICE_URL"] == grader_url(chart)
    assert "apiToken" not in service  # z2jh generates it into Secret `hub`
    # ... which is where the chart's grading service reads it
    assert z2jh_values["fullnameOverride"] == ""  # Secret `hub`, Service `hub`
    token = chart_values["grader"]["hubApiToken"]
    assert (token["existingSecret"], token["key"]) == ("hub", f"hub.services.{name}.apiToken")
    env = find(chart, "ConfigMap", "dlcourse-grader-env")["data"]
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"  # z2jh's Service `hub`
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == f"/services/{name}/"


def test_grader_role_has_the_scopes_the_service_needs(z2jh_values):
    roles = z2jh_values["hub"]["loadRoles"]
    (role,) = [r for r in roles.values() if "grader" in r.get("services", [])]
    documented = service_config.SETTINGS["HUB_API_TOKEN"][3]
    needed = set(re.findall(r"[a-z_]+:[a-z_:]+", documented.split("scopes")[1]))
    assert needed == {"read:users", "read:users:groups", "read:groups", "admin:auth_state"}
    assert set(role["scopes"]) == needed
    # a server's token identifies its owner to the grading service, nothing more
    assert set(roles["server"]["scopes"]) == {"users:activity!user", "access:servers!server",
                                              "read:users:name!user", "read:users:groups!user"}


def test_singleuser_egress_matches_the_chart(z2jh_values, chart):
    policy = z2jh_values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    rules = policy["egressAllowRules"]
    assert not any(rules[k] for k in ("nonPrivateIPs", "privateIPs", "cloudMetadataServer",
                                      "dnsPortsPrivateIPs", "dnsPortsCloudMetadataServer"))
    assert rules["dnsPortsKubeSystemNamespace"] is True
    (rule,) = policy["egress"]
    labels = find(chart, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert rule["to"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    container_port = find(chart, "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "ports"][0]["containerPort"]
    assert rule["ports"] == [{"port": container_port, "protocol": "TCP"}]


def test_chart_selects_this_releases_pods(z2jh_values, chart_values):
    """The chart's policies select z2jh pods by app.kubernetes.io/instance (the release)
    and /name: the release name and z2jh version in helm/README.md's install command
    and the chart defaults must agree."""
    readme = (REPO / "helm" / "README.md").read_text()
    release = chart_values["jupyterhub"]["release"]
    assert (f"helm upgrade --install {release} jupyterhub/jupyterhub --version {Z2JH_VERSION} "
            in readme)
    assert "nameOverride" not in z2jh_values  # app.kubernetes.io/name stays `jupyterhub`
    assert chart_values["jupyterhub"]["name"] == "jupyterhub"
    assert chart_values["jupyterhub"]["appLabel"] is None  # removed, refused when set


def test_prometheus_may_reach_the_hub(z2jh_values, chart):
    """z2jh's hub policy admits only labelled pods and hub.networkPolicy.ingress: the
    one rule there lets a Prometheus pod of one namespace scrape port 8081, where the
    chart's hub ServiceMonitor (when enabled) points it."""
    policy = z2jh_values["hub"]["networkPolicy"]
    assert policy["enabled"] is True
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": 8081, "protocol": "TCP"}]
    (peer,) = rule["from"]
    # one peer with both selectors: those pods in that namespace, not all of either
    assert set(peer) == {"namespaceSelector", "podSelector"}
    assert peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    assert peer["podSelector"]["matchLabels"]
    values_text = (REPO / "helm" / "dlcourse" / "values.yaml").read_text()
    # the grading service's extraIngress example names the same peer
    assert "kubernetes.io/metadata.name: monitoring" in values_text
    assert "app.kubernetes.io/name: prometheus" in values_text
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name":
                                                        "monitoring"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


def test_authenticator_and_spawner_settings(z2jh_values):
    config = z2jh_values["hub"]["config"]
    entry_points = tomllib.loads((REPO / "hub" / "pyproject.toml").read_text())["project"][
        "entry-points"]["jupyterhub.authenticators"]
    assert config["JupyterHub"]["authenticator_class"] in entry_points
    auth = config["CourseOAuthenticator"]
    assert auth["roll_number_claim"] and auth["username_claim"] == "preferred_username"
    assert auth["manage_groups"] is True and config["Authenticator"]["enable_auth_state"]
    assert config["KubeSpawner"]["slug_scheme"] == "safe"
    storage = z2jh_values["singleuser"]["storage"]
    (mount,) = z2jh_values["singleuser"]["initContainers"][0]["volumeMounts"]
    assert mount["name"] == storage["dynamic"]["volumeNameTemplate"]
    assert storage["homeMountPath"] == "/home/jovyan"


def test_no_secret_is_written_in_the_file(z2jh_values):
    hub = z2jh_values["hub"]
    assert "client_secret" not in hub["config"]["CourseOAuthenticator"]
    assert "cookieSecret" not in hub and "secretToken" not in z2jh_values.get("proxy", {})
    for var in ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET"):
        assert hub["extraEnv"][var]["valueFrom"]["secretKeyRef"]["name"] == "dlcourse-oidc"


def test_ingress_takes_notebook_saves_and_no_pod_is_privileged(z2jh_values):
    ingress = z2jh_values["ingress"]
    assert ingress["ingressClassName"]
    size = ingress["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m") and int(size[:-1]) >= 16  # notebooks with outputs
    single = z2jh_values["singleuser"]
    assert single["cloudMetadata"]["blockWithIptables"] is False
    assert single["networkPolicy"]["enabled"]
    assert single["networkPolicy"]["egressAllowRules"]["cloudMetadataServer"] is False
    for init in single["initContainers"]:
        context = init["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["runAsNonRoot"]


def extra_containers(node, path="values"):
    """``(path, container)`` of every init/extra container anywhere in z2jh's values."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("initContainers", "extraContainers", "init_containers",
                       "extra_containers") and isinstance(value, list):
                for container in value:
                    yield f"{path}.{key}[{container.get('name')}]", container
            else:
                yield from extra_containers(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from extra_containers(value, f"{path}[{index}]")


def test_no_container_in_the_z2jh_values_is_privileged(z2jh_values):
    """No init (or extra) container z2jh gets from this file is privileged, runs as
    root or adds a capability, and z2jh's privileged iptables init container is off."""
    found = list(extra_containers(z2jh_values))
    assert [path for path, _ in found] == ["values.singleuser.initContainers[seed-course]"]
    for path, container in found:
        context = container.get("securityContext", {})
        assert context.get("privileged", False) is False, path
        assert context.get("capabilities", {}).get("add", []) == [], path
        assert context["capabilities"]["drop"] == ["ALL"], path
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, path
        assert context["allowPrivilegeEscalation"] is False, path
    assert z2jh_values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    # nothing asks z2jh for privileged pods another way
    text = yaml.safe_dump(z2jh_values)
    assert "privileged: true" not in text and "NET_ADMIN" not in text


def test_workshop_sizing(z2jh_values):
    sched = z2jh_values["scheduling"]
    assert sched["userScheduler"]["enabled"] and sched["podPriority"]["enabled"]
    assert sched["userPlaceholder"]["enabled"] and sched["userPlaceholder"]["replicas"] > 0
    single = z2jh_values["singleuser"]
    assert single["memory"]["guarantee"] and single["memory"]["limit"] == "2G"
    assert single["cpu"]["guarantee"] and single["cpu"]["limit"]
    assert z2jh_values["hub"]["activeServerLimit"] >= 300
    assert z2jh_values["cull"]["enabled"] and z2jh_values["cull"]["timeout"] > 0


def test_extra_config_sets_roll_number_from_auth_state(z2jh_values, monkeypatch):
    """Run hub.extraConfig as z2jh would, then spawn: ROLL_NUMBER comes from auth_state."""
    require(importlib.util.find_spec("jupyterhub") is not None, "jupyterhub is not installed")
    monkeypatch.syspath_prepend(str(REPO / "hub"))
    env = z2jh_values["hub"]["extraEnv"]
    monkeypatch.setenv("COURSE_IDS", env["COURSE_IDS"])
    monkeypatch.setenv("GRADER_SERVICE_URL", env["GRADER_SERVICE_URL"])
    from jupyterhub.spawner import Spawner

    from course_hub.spawn_queue import QueuedSpawnerMixin

    # kubespawner (the hub image's [kubernetes] extra) cannot run here: a stand-in class
    kubespawner = types.ModuleType("kubespawner")
    async def not_here(self):
        raise NotImplementedError

    kubespawner.KubeSpawner = type("KubeSpawner", (Spawner,), {
        "start": not_here, "stop": not_here, "poll": not_here})
    monkeypatch.setitem(sys.modules, "kubespawner", kubespawner)
    c = Config()
    for name, code in sorted(z2jh_values["hub"]["extraConfig"].items()):
        exec(compile(code, f"hub.extraConfig.{name}", "exec"), {"c": c})
    # servers start through the spawn line, the pending page after 3 s
    assert issubclass(c.JupyterHub.spawner_class, QueuedSpawnerMixin)
    assert issubclass(c.JupyterHub.spawner_class, kubespawner.KubeSpawner)
    assert c.JupyterHub.tornado_settings["slow_spawn_timeout"] == 3
    assert z2jh_values["hub"]["concurrentSpawnLimit"] >= 300
    course = env["COURSE_IDS"].split(",")[0]
    assert set(c.CourseOAuthenticator.allowed_groups) == {f"nbgrader-{course}",
                                                          f"formgrade-{course}"}
    spawner = types.SimpleNamespace(
        environment={},
        user=types.SimpleNamespace(groups=[types.SimpleNamespace(name=f"nbgrader-{course}")]))
    asyncio.run(c.Spawner.auth_state_hook(spawner, {"roll_number": "21CS1001"}))
    assert spawner.environment == {"ROLL_NUMBER": "21CS1001", "COURSE_ID": course,
                                   "NBGRADER_ROLE": "student",
                                   "GRADER_SERVICE_URL": env["GRADER_SERVICE_URL"]}
    # the seed init container follows the image the server runs (a profile's too)
    pod = types.SimpleNamespace(spec=types.SimpleNamespace(
        containers=[types.SimpleNamespace(name="notebook", image="site/course:2026.1")],
        init_containers=[types.SimpleNamespace(name="seed-course", image="x:latest"),
                         types.SimpleNamespace(name="other", image="y:1")]))
    pod = c.KubeSpawner.modify_pod_hook(spawner, pod)
    assert [i.image for i in pod.spec.init_containers] == ["site/course:2026.1", "y:1"]
