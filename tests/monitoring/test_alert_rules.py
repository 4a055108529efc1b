"""The alerting rules: valid for Prometheus, fire when they should (promtool unit tests
with synthetic series), and name only metrics the services really export.

promtool comes from Debian's ``prometheus`` package (``debian_tools``: unpacked, not
installed).
"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.monitoring.debian_tools import debian_tool

HERE = Path(__file__).resolve().parent
MONITORING_FILES = REPO / "ansible" / "roles" / "monitoring" / "files"
RULES = MONITORING_FILES / "alert-rules.yml"  # the services' (Ansible and Helm)
HOST_RULES = MONITORING_FILES / "host-alert-rules.yml"  # the VM's (Ansible)


@pytest.fixture(scope="session")
def promtool():
    return debian_tool("prometheus", "promtool")


def run(promtool, *args):
    result = subprocess.run([promtool, *args], cwd=HERE, capture_output=True, text=True,
                            timeout=120, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("rules, count", [(RULES, 9), (HOST_RULES, 11)],
                         ids=["services", "host"])
def test_rules_are_valid_prometheus_rules(promtool, rules, count):
    code, output = run(promtool, "check", "rules", str(rules))
    assert code == 0 and f"SUCCESS: {count} rules found" in output, output


@pytest.mark.parametrize("tests", ["alert-rules.test.yml", "host-alert-rules.test.yml"])
def test_alerts_fire_exactly_when_expected(promtool, tests):
    code, output = run(promtool, "test", "rules", tests)
    assert code == 0, output


@pytest.mark.parametrize("rules, tests", [(RULES, "alert-rules.test.yml"),
                                          (HOST_RULES, "host-alert-rules.test.yml")])
def test_every_alert_has_a_unit_test(rules, tests):
    defined = {r["alert"] for g in yaml.safe_load(rules.read_text())["groups"]
               for r in g["rules"]}
    tested = {t["alertname"] for case in yaml.safe_load((HERE / tests).read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert defined == tested, defined ^ tested


@pytest.mark.parametrize("rules, tests, bar, alert", [
    (RULES, "alert-rules.test.yml",
     'increase(grader_jobs_finished_total{outcome="infrastructure"}[15m])) > 3',
     "DlcourseGradingInfrastructureFailing"),
    (HOST_RULES, "host-alert-rules.test.yml",
     "time() - dlcourse_backup_last_success_timestamp_seconds > 26 * 3600",
     "DlcourseBackupStale"),
], ids=["services", "host"])
def test_a_broken_expectation_fails_the_unit_tests(promtool, tmp_path, rules, tests, bar, alert):
    """The unit tests can fail: the same tests against a rule file with a raised bar."""
    broken = tmp_path / "rules.yml"
    assert bar in rules.read_text()
    broken.write_text(rules.read_text().replace(bar, bar + "00"))
    cases = yaml.safe_load((HERE / tests).read_text())
    cases["rule_files"] = [str(broken)]
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(cases))
    code, output = run(promtool, "test", "rules", str(tmp_path / "tests.yml"))
    assert code != 0 and alert in output, output


def sample_names(registry) -> set[str]:
    """Every sample name ``registry``'s metrics can expose (histogram/counter suffixes)."""
    suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",),
                "gauge": ("",), "summary": ("_count", "_sum")}
    return {family.name + suffix for family in registry.collect()
            for suffix in suffixes.get(family.type, ("",))}


def test_rules_name_only_metrics_the_services_export():
    import prometheus_client
    from jupyterhub import metrics as hub_metrics  # registers JupyterHub's metrics

    from grader_service.metrics import GraderMetrics

    exported = sample_names(GraderMetrics(["csv", "lti-ags"]).registry)
    exported |= sample_names(prometheus_client.REGISTRY) | {"up"}
    assert hub_metrics.SERVER_SPAWN_DURATION_SECONDS is not None
    rules = yaml.safe_load(RULES.read_text())
    used = {name for group in rules["groups"] for rule in group["rules"]
            for name in re.findall(r"\b(up|grader_\w+|jupyterhub_\w+)\b", rule["expr"])}
    assert used and used <= exported, sorted(used - exported)
    assert {"grader_exports_finished_total", "jupyterhub_server_spawn_duration_seconds_count",
            "grader_grading_duration_seconds_bucket"} <= used
