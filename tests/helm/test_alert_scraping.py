"""Every metric of every alert in files/alert-rules.yml is exposed by a component that a
rendered ServiceMonitor really scrapes.

What each component exposes is read from the component itself: the grading service's
prometheus_client registry (GraderMetrics) and the metric objects JupyterHub
(``jupyterhub.metrics``) and ``course_hub`` define. Where it is scraped comes from the
rendered chart: a ServiceMonitor whose selector matches the grading service's rendered
Service or z2jh's Service `hub` (helm_testing.z2jh_hub_service, of Z2JH_VERSION), on the
port and path the component serves, with the bearer token it accepts. An alert whose
metric nobody scrapes, or whose `job` matcher names no scraped job, fails the test.
"""

import importlib
import pkgutil
import re

import pytest
import yaml
from helm_testing import CHART, NAMESPACE, POSTGRES_VALUES, find, z2jh_hub_service

from grader_service.metrics import GraderMetrics
from tests.conftest import REPO

RULES = CHART / "files" / "alert-rules.yml"
MONITORED = {"metrics": {"serviceMonitor": {"enabled": True},
                         "prometheusRule": {"enabled": True}}}
#: PromQL words that look like metric names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan"}
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",),
            "gauge": ("",), "summary": ("", "_count", "_sum"), "info": ("_info",)}


# --- what the alerts use -------------------------------------------------------------------


def series_selectors(expr):
    """``[(metric name, {label: (operator, value)})]`` of every series selector in a
    PromQL expression: identifiers that are not functions, keywords, grouping labels or
    inside a label matcher."""
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    found = []
    for match in re.finditer(r"(?<![\w:.\"])([a-zA-Z_:][\w:]*)(\s*\{[^}]*\})?", text):
        name, braces = match.group(1), match.group(2) or ""
        rest = text[match.end():].lstrip()
        if name in KEYWORDS or (not braces and rest.startswith("(")):
            continue
        matchers = {label: (op, value) for label, op, value in
                    re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', braces)}
        found.append((name, matchers))
    return found


def alert_selectors(rules):
    return [(rule["alert"], name, matchers) for group in rules["groups"]
            for rule in group["rules"] for name, matchers in series_selectors(rule["expr"])]


def test_the_selector_parser_finds_metrics_and_nothing_else():
    expr = ('histogram_quantile(0.9, sum by (job, instance, le) (rate(a_seconds_bucket'
            '{job=~".+-x", le!="+Inf"}[30m]))) > 240 and on(job) b_total unless '
            'up{job="hub"} == 0')
    assert series_selectors(expr) == [
        ("a_seconds_bucket", {"job": ("=~", ".+-x"), "le": ("!=", "+Inf")}),
        ("b_total", {}), ("up", {"job": ("=", "hub")})]


# --- what the components expose --------------------------------------------------------------


def metric_objects(module):
    from prometheus_client.metrics import MetricWrapperBase

    return [v for v in vars(module).values() if isinstance(v, MetricWrapperBase)]


def exposed(metric):
    """``{sample name: label names}`` of one prometheus_client metric object."""
    (family,) = metric.describe()
    return {family.name + suffix: set(metric._labelnames)
            for suffix in SUFFIXES.get(family.type, ("",))}


@pytest.fixture(scope="module")
def components(monkeypatch_module):
    """``{component: {sample name: label names}}`` from the components' own code."""
    import jupyterhub.metrics

    monkeypatch_module.syspath_prepend(str(REPO / "hub"))
    import course_hub

    grader_metrics = GraderMetrics(["csv", "lti-ags", "canvas"])
    grader = {}
    for metric in vars(grader_metrics).values():
        if hasattr(metric, "describe") and hasattr(metric, "_labelnames"):
            grader.update(exposed(metric))
    hub = {}
    for metric in metric_objects(jupyterhub.metrics):
        hub.update(exposed(metric))
    for module in pkgutil.iter_modules(course_hub.__path__):
        for metric in metric_objects(importlib.import_module(f"course_hub.{module.name}")):
            hub.update(exposed(metric))
    return {"grader": grader, "hub": hub}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_components_expose_what_the_rules_need(components):
    assert "grader_jobs_finished_total" in components["grader"]
    assert components["hub"]["jupyterhub_server_spawn_duration_seconds_count"] >= {"status"}


# --- where they are scraped -----------------------------------------------------------------


def metrics_paths():
    """The path each component serves its metrics on, from its own routes."""
    from flask import Flask
    from jupyterhub.handlers.metrics import default_handlers

    from grader_service.api import BLUEPRINTS

    app = Flask("routes")
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    grader = {rule.rule for rule in app.url_map.iter_rules()}
    hub = {"/hub" + pattern.rstrip("$") for pattern, _handler in default_handlers}
    return {"grader": grader, "hub": hub}


def known_services(docs, values):
    """``[(component, namespace, Service)]``: the rendered grading service's Service and
    z2jh's Service `hub` as z2jh renders it for these values."""
    jh = {"name": "jupyterhub", "release": "jupyterhub", "namespace": NAMESPACE,
          **{k: v for k, v in values.get("jupyterhub", {}).items() if v}}
    service = find(docs, "Service")
    grader = {"name": service["metadata"]["name"], "labels": service["metadata"]["labels"],
              "ports": service["spec"]["ports"]}
    return [("grader", service["metadata"]["namespace"], grader),
            ("hub", jh["namespace"], z2jh_hub_service(jh["name"], jh["release"]))]


def target_port_of(component, service, endpoint, docs):
    """The container port an endpoint scrapes, or fail when it names no port."""
    if "port" in endpoint:
        (port,) = [p for p in service["ports"] if p.get("name") == endpoint["port"]]
        target = port["targetPort"]
    else:
        target = endpoint["targetPort"]
        assert target in {p["targetPort"] for p in service["ports"]}, endpoint
    if component == "grader" and isinstance(target, str):
        ports = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["ports"]
        (target,) = [p["containerPort"] for p in ports if p["name"] == target]
    return target


def scraped_jobs(docs, values, z2jh_values):
    """``{component: job name}`` of every component a rendered ServiceMonitor scrapes
    correctly (right Service, port, path and token)."""
    paths = metrics_paths()
    jobs = {}
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        spec = monitor["spec"]
        assert "jobLabel" not in spec  # the job is the Service's name
        hits = [(component, service) for component, ns, service in known_services(docs, values)
                if ns in spec["namespaceSelector"]["matchNames"]
                and spec["selector"]["matchLabels"].items() <= service["labels"].items()]
        assert len(hits) == 1, f"{monitor['metadata']['name']} selects {hits}"
        ((component, service),) = hits
        (endpoint,) = spec["endpoints"]
        port = target_port_of(component, service, endpoint, docs)
        credentials = endpoint["authorization"]["credentials"]
        assert endpoint["authorization"]["type"] == "Bearer"
        assert endpoint["path"] in paths[component], (component, endpoint["path"])
        if component == "grader":
            assert port == 5000
            env = {e["name"]: e for e in find(docs, "Deployment")["spec"]["template"]["spec"]
                   ["containers"][0]["env"]}
            # the token the grading service checks /metrics against
            assert credentials == env["GRADER_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]
        else:
            assert port == 8081 == values.get("jupyterhub", {}).get("ports", {}).get("hub", 8081)
            # z2jh's Secret `hub` in its namespace holds the `prometheus` service's token,
            # whose role may read the metrics the hub guards
            hub = z2jh_values["hub"]
            assert hub["config"]["JupyterHub"]["authenticate_prometheus"] is True
            assert credentials == {"name": "hub", "key": "hub.services.prometheus.apiToken"}
            assert "prometheus" in hub["services"]
            assert any("prometheus" in role.get("services", [])
                       and "read:metrics" in role["scopes"]
                       for role in hub["loadRoles"].values())
            assert monitor["metadata"]["namespace"] == known_services(docs, values)[1][1]
        jobs[component] = service["name"]
    return jobs


def label_matches(op, value, actual):
    """PromQL label matching (regular expressions are fully anchored)."""
    if op in ("=", "!="):
        return (actual == value) == (op == "=")
    return (re.fullmatch(value, actual) is not None) == (op == "=~")


def unscraped(rules, components, jobs):
    """Each alert selector that no scraped component can answer, as a message."""
    problems = []
    for alert, metric, matchers in alert_selectors(rules):
        answering = [c for c in jobs if metric == "up" or metric in components[c]]
        if not answering:
            problems.append(f"{alert}: {metric} is scraped from no component")
            continue
        op, value = matchers.get("job", ("=~", ".*"))
        matched = [c for c in answering if label_matches(op, value, jobs[c])]
        if not matched:
            problems.append(f"{alert}: {metric}{{job{op}{value!r}}} matches no scrape job "
                            f"of {answering}: {[jobs[c] for c in answering]}")
            continue
        for label in set(matchers) - {"job", "instance"}:
            if metric != "up" and not any(label in components[c][metric] for c in matched):
                problems.append(f"{alert}: {metric} has no label {label}")
    return problems


@pytest.fixture(scope="module")
def rules():
    return yaml.safe_load(RULES.read_text())


@pytest.mark.parametrize("values", [MONITORED, {**POSTGRES_VALUES, **MONITORED}],
                         ids=["default", "postgres"])
def test_every_alert_metric_is_exposed_and_scraped(render, z2jh_values, components, rules,
                                                   values):
    docs = render(values)
    jobs = scraped_jobs(docs, values, z2jh_values)
    assert jobs == {"grader": "dlcourse-grader", "hub": "hub"}
    used = {metric for _alert, metric, _m in alert_selectors(rules)}
    assert {"up", "grader_jobs_current", "jupyterhub_server_spawn_duration_seconds_count"} <= used
    assert unscraped(rules, components, jobs) == []
    # the rules the chart installs are these rules
    assert find(docs, "PrometheusRule")["spec"] == rules


def test_alerts_fail_without_the_hub_scrape(render, z2jh_values, components, rules):
    """The check can fail: without the hub's ServiceMonitor the hub's alerts cannot fire."""
    values = {"metrics": {"serviceMonitor": {"enabled": True, "hub": {"enabled": False}}}}
    jobs = scraped_jobs(render(values), values, z2jh_values)
    assert jobs == {"grader": "dlcourse-grader"}
    problems = unscraped(rules, components, jobs)
    assert any(p.startswith("DlcourseSpawnsFailing: jupyterhub_server_spawn_duration")
               for p in problems), problems
    assert any(p.startswith("DlcourseHubDown: up{job=~") for p in problems), problems
    assert not any(p.startswith("DlcourseGrader") for p in problems), problems
    # nothing scraped at all: every alert is unanswerable
    assert len(unscraped(rules, components, {})) == len(alert_selectors(rules))


def test_an_alert_on_an_unknown_metric_or_label_fails(components, rules):
    jobs = {"grader": "dlcourse-grader", "hub": "hub"}
    broken = {"groups": [{"name": "x", "rules": [
        {"alert": "Unknown", "expr": "sum(rate(grader_nonexistent_total[5m])) > 0"},
        {"alert": "WrongJob", "expr": 'up{job="proxy"} == 0'},
        {"alert": "WrongLabel", "expr": 'grader_jobs_current{queue="x"} > 0'}]}]}
    problems = unscraped(broken, components, jobs)
    assert [p.split(":")[0] for p in problems] == ["Unknown", "WrongJob", "WrongLabel"]
