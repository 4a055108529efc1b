"""The alerting rules: valid for Prometheus, fire when they should (promtool unit tests
with synthetic series), and name only metrics the services really export.

promtool comes from Debian's ``prometheus`` package: unpacked (not installed) into
``build/tools`` when it is not on PATH. Without it the tests skip on a developer
machine and FAIL under CI=true.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, require

HERE = Path(__file__).resolve().parent
RULES = REPO / "ansible" / "roles" / "monitoring" / "files" / "alert-rules.yml"
TOOLS = REPO / "build" / "tools"


def unpack_promtool() -> Path | None:
    """promtool from the Debian package, unpacked into build/tools; None if that fails."""
    with tempfile.TemporaryDirectory() as tmp:
        def download():
            return subprocess.run(["apt-get", "download", "prometheus"], cwd=tmp,
                                  capture_output=True, timeout=300, check=False).returncode

        if download() != 0:  # no package lists yet (a fresh machine): fetch them once
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600,
                           check=False)
            download()
        debs = list(Path(tmp).glob("prometheus_*.deb"))
        if not debs:
            return None
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/root"], check=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f"{tmp}/root/usr/bin/promtool", TOOLS / "promtool")
    return TOOLS / "promtool"


@pytest.fixture(scope="session")
def promtool():
    found = shutil.which("promtool") or (TOOLS / "promtool" if (TOOLS / "promtool").exists()
                                         else None)
    if found is None and shutil.which("apt-get"):
        found = unpack_promtool()
    require(found is not None, "promtool is not available (Debian package prometheus)")
    return str(found)


def run(promtool, *args):
    result = subprocess.run([promtool, *args], cwd=HERE, capture_output=True, text=True,
                            timeout=120, check=False)
    return result.returncode, result.stdout + result.stderr


def test_rules_are_valid_prometheus_rules(promtool):
    code, output = run(promtool, "check", "rules", str(RULES))
    assert code == 0 and "SUCCESS: 9 rules found" in output, output


def test_alerts_fire_exactly_when_expected(promtool):
    code, output = run(promtool, "test", "rules", "alert-rules.test.yml")
    assert code == 0, output


def test_a_broken_expectation_fails_the_unit_tests(promtool, tmp_path):
    """The unit tests can fail: the same tests against a rule file with a raised bar."""
    broken = tmp_path / "rules.yml"
    bar = 'increase(grader_jobs_finished_total{outcome="infrastructure"}[15m])) > 3'
    assert bar in RULES.read_text()
    broken.write_text(RULES.read_text().replace(bar, bar + "00"))
    tests = yaml.safe_load((HERE / "alert-rules.test.yml").read_text())
    tests["rule_files"] = [str(broken)]
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    code, output = run(promtool, "test", "rules", str(tmp_path / "tests.yml"))
    assert code != 0 and "DlcourseGradingInfrastructureFailing" in output, output


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
