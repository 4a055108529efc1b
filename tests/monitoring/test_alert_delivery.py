"""Alerts reach a person: the monitoring role's Alertmanager configuration, rendered by
Ansible, passes ``amtool check-config`` for every way of receiving alerts, and Debian's
real Alertmanager (its package unpacked, not installed) run with it delivers a firing alert, then its resolution, to a webhook
(a local HTTP server standing in for the chat bridge). Prometheus' configuration sends
its alerts to that Alertmanager and loads both rule files.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time

import pytest
import requests
import yaml

from scripts.demo_idp import free_port
from tests.ansible.ansible_testing import render_template
from tests.monitoring.debian_tools import debian_tool, with_package_data

ALERTMANAGER_TEMPLATE = "monitoring/templates/alertmanager.yml.j2"


@pytest.fixture(scope="module")
def amtool():
    return debian_tool("prometheus-alertmanager", "amtool")


@pytest.mark.parametrize("receivers", [
    {"dlcourse_alert_email_to": ["ops@example.edu", "ta@example.edu"],
     "dlcourse_alert_smtp_smarthost": "smtp.example.edu:587",
     "dlcourse_alert_smtp_auth_username": "alerts", "dlcourse_alert_smtp_auth_password": "s3"},
    {"dlcourse_alert_webhook_urls": ["https://chat.example.edu/hooks/abc"]},
    {"dlcourse_alert_email_to": ["ops@example.edu"],
     "dlcourse_alert_webhook_urls": ["https://chat.example.edu/a", "https://pager.example.edu/b"]},
    {},
], ids=["email", "webhook", "both", "none"])
def test_every_receiver_setting_gives_a_valid_alertmanager_config(tmp_path, amtool, receivers):
    rendered = render_template(tmp_path, ALERTMANAGER_TEMPLATE, **receivers)
    check = subprocess.run([amtool, "check-config", str(rendered)], capture_output=True,
                           text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(rendered.read_text())
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    emails = [c["to"] for c in receiver.get("email_configs", [])]
    hooks = [c["url"] for c in receiver.get("webhook_configs", [])]
    assert emails == receivers.get("dlcourse_alert_email_to", [])
    assert hooks == receivers.get("dlcourse_alert_webhook_urls", [])
    if emails:
        assert config["global"]["smtp_smarthost"] == receivers.get(
            "dlcourse_alert_smtp_smarthost", "localhost:25")
        assert config["global"]["smtp_require_tls"] is True
        assert config["global"].get("smtp_auth_password") == receivers.get(
            "dlcourse_alert_smtp_auth_password")


class WebhookSink:
    """A local HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                sink.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.bodies):
                if predicate(body):
                    return body
            time.sleep(0.2)
        pytest.fail(f"no such webhook call within {timeout} s; got {self.bodies}")

    def close(self):
        self.server.shutdown()


def test_alertmanager_delivers_a_firing_alert_and_its_resolution_to_the_webhook(
        tmp_path, amtool):
    alertmanager = debian_tool("prometheus-alertmanager", "prometheus-alertmanager")
    sink = WebhookSink()
    rendered = render_template(tmp_path, ALERTMANAGER_TEMPLATE,
                               dlcourse_alert_webhook_urls=[sink.url],
                               dlcourse_alert_group_wait="1s",
                               dlcourse_alert_group_interval="1s")
    port = free_port()
    proc = subprocess.Popen(with_package_data("prometheus-alertmanager", [
        alertmanager, f"--config.file={rendered}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address=", f"--storage.path={tmp_path / 'data'}"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{port}/api/v2"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{api}/status", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        alert = {"labels": {"alertname": "DlcourseBackupFailed", "severity": "critical",
                            "project": "dlcourse"},
                 "annotations": {"summary": "The last backup of dlcourse failed"}}
        assert requests.post(f"{api}/alerts", json=[alert], timeout=10).status_code == 200
        firing = sink.wait_for(lambda b: b["status"] == "firing")
        assert firing["receiver"] == "course-ops"
        (sent,) = firing["alerts"]
        assert sent["labels"]["alertname"] == "DlcourseBackupFailed"
        assert sent["annotations"]["summary"] == "The last backup of dlcourse failed"

        ended = {**alert, "endsAt": "2000-01-01T00:00:00Z"}  # the alert stopped firing
        assert requests.post(f"{api}/alerts", json=[ended], timeout=10).status_code == 200
        resolved = sink.wait_for(lambda b: b["status"] == "resolved")
        assert resolved["alerts"][0]["labels"]["alertname"] == "DlcourseBackupFailed"
    finally:
        proc.terminate()
        proc.wait(30)
        sink.close()


def test_prometheus_sends_alerts_to_alertmanager_and_loads_both_rule_files(tmp_path):
    rendered = render_template(tmp_path, "monitoring/templates/prometheus.yml.j2",
                               inventory_hostname="vm", dlcourse_project="course2",
                               dlcourse_https_port=8443)
    config = yaml.safe_load(rendered.read_text())
    assert config["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]
    assert [r.rsplit("/", 1)[1] for r in config["rule_files"]] == [
        "dlcourse-alert-rules.yml", "dlcourse-host-alert-rules.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"prometheus", "node", "course2-grader", "course2-hub", "course2-https"} <= set(jobs)
    probe = jobs["course2-https"]
    assert probe["params"] == {"module": ["dlcourse_https"]}
    assert probe["static_configs"][0]["targets"] == ["https://127.0.0.1:8443/hub/health"]
    relabel = {r["target_label"]: r.get("replacement") for r in probe["relabel_configs"]}
    assert relabel["__address__"] == "127.0.0.1:9115"
    assert relabel["instance"] == "https://hub.example.edu:8443/hub/health"


def test_the_blackbox_modules_are_valid_and_check_a_real_certificate(tmp_path):
    exporter = debian_tool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
    for source, verify in (("selfsigned", False), ("existing", True)):
        rendered = render_template(tmp_path, "monitoring/templates/blackbox.yml.j2",
                                   dlcourse_tls_certificate_source=source)
        check = subprocess.run([exporter, "--config.check", f"--config.file={rendered}"],
                               capture_output=True, text=True, timeout=60, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        tls = yaml.safe_load(rendered.read_text())["modules"]["dlcourse_https"]["http"][
            "tls_config"]
        assert tls == {"server_name": "hub.example.edu", "insecure_skip_verify": not verify}
