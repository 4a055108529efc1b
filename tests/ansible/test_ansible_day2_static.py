"""Day-two settings of the Ansible roles, rendered by Ansible itself on this machine
(no Docker, no target host): the engine keeps containers across its own restarts, the
hub reads settings from a mounted config.d, port 80 serves ACME challenges, certbot
renews with the site's settings, backups leave the host encrypted or the play says why not.

Without ansible-core the tests skip on a developer machine and FAIL under CI=true.
"""

import json
import re

import pytest
import yaml

from tests.ansible.ansible_testing import (
    ANSIBLE_DIR,
    ROLES_DIR,
    render_template,
    run_role_tasks,
    run_with_role_vars,
)

OLD_DAEMON_JSON = {"log-driver": "json-file", "log-opts": {"max-size": "20m", "max-file": "5"}}


@pytest.mark.parametrize("before, overrides, restart", [
    # the upgrade to this role: live-restore is turned on by a reload, nothing restarts
    (OLD_DAEMON_JSON, {}, False),
    # log settings cannot be reloaded: a restart, which live-restore makes harmless
    ({**OLD_DAEMON_JSON, "live-restore": True}, {"dlcourse_docker_log_max_size": "50m"}, True),
    ({**OLD_DAEMON_JSON, "live-restore": True},
     {"dlcourse_docker_daemon_options": {"registry-mirrors": ["https://mirror.example"]}}, False),
    (None, {}, True),  # a fresh host: no containers yet
])
def test_daemon_json_keeps_containers_and_restarts_only_when_needed(
        tmp_path, before, overrides, restart):
    daemon_json = tmp_path / "daemon.json"
    if before is not None:
        daemon_json.write_text(json.dumps(before))
    facts = run_role_tasks(tmp_path, "docker", "daemon", ["dlcourse_docker_restart_needed"],
                           dlcourse_docker_daemon_json=str(daemon_json), **overrides)
    written = json.loads(daemon_json.read_text())
    assert written["live-restore"] is True
    assert written["log-driver"] == "json-file"
    assert str(facts["dlcourse_docker_restart_needed"]).lower() == str(restart).lower()


def test_docker_handlers_reload_before_they_restart():
    handlers = yaml.safe_load((ANSIBLE_DIR / "roles" / "docker" / "handlers" / "main.yml")
                              .read_text())
    states = [h["ansible.builtin.service"]["state"] for h in handlers]
    assert states == ["reloaded", "restarted"]
    assert "dlcourse_docker_restart_needed" in handlers[1]["when"]


def test_hub_config_d_file_sets_timeouts_and_limits(tmp_path, monkeypatch):
    """The stack role's config.d file, loaded by the real hub/jupyterhub_config.py."""
    from tests.hub.test_lti_rules import load_hub_config

    rendered = render_template(
        tmp_path, "stack/templates/hub-config.py.j2", dlcourse_hub_start_timeout=300,
        dlcourse_hub_http_timeout=150, dlcourse_singleuser_mem_limit="3G",
        dlcourse_singleuser_cpu_limit=2,
        dlcourse_hub_extra_config="c.JupyterHub.concurrent_spawn_limit = 50")
    config = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(rendered.parent))
    assert config.Spawner.start_timeout == 300 and config.Spawner.http_timeout == 150
    assert config.DockerSpawner.mem_limit == "3G" and config.DockerSpawner.cpu_limit == 2.0
    assert config.JupyterHub.concurrent_spawn_limit == 50


def test_hub_config_d_defaults_match_the_hub_image(tmp_path, monkeypatch):
    from tests.hub.test_lti_rules import load_hub_config

    rendered = render_template(tmp_path, "stack/templates/hub-config.py.j2")
    image = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(tmp_path / "none"))
    deployed = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(rendered.parent))
    for cls, trait in [("Spawner", "start_timeout"), ("Spawner", "http_timeout"),
                       ("DockerSpawner", "mem_limit"), ("DockerSpawner", "cpu_limit")]:
        assert deployed[cls][trait] == image[cls][trait], (cls, trait)


def test_stack_mounts_config_d_and_restarts_the_hub_on_change():
    tasks = yaml.safe_load((ROLES_DIR / "stack" / "tasks" / "main.yml").read_text())
    written = next(t for t in tasks if t.get("ansible.builtin.template", {}).get("src")
                   == "hub-config.py.j2")
    assert written["notify"] == "Restart JupyterHub"
    hub = next(t for t in tasks if t["name"] == "Run JupyterHub")
    assert ("{{ dlcourse_hub_config_d_dir }}:/etc/jupyterhub/config.d:ro"
            in hub["community.docker.docker_container"]["volumes"])


def test_port_80_serves_acme_challenges_and_redirects_the_rest(tmp_path):
    site = render_template(tmp_path, "tls/templates/nginx-site.conf.j2",
                           dlcourse_tls_acme_webroot="/var/www/acme").read_text()
    http = site[site.index("server {"):site.index("server {", site.index("server {") + 1)]
    assert "listen 0.0.0.0:80;" in http
    acme = http[http.index("location ^~ /.well-known/acme-challenge/"):]
    assert "root /var/www/acme;" in acme.split("}")[0]
    assert "return 301 https://$host$request_uri;" in http.split("location / {")[1]
    assert http.count("return 301") == 1  # only inside location /, not the whole server


def test_with_a_proxy_api_url_the_hub_uses_that_proxy_and_starts_none(monkeypatch):
    """Ansible's hub talks to the proxy container's API; make demo's hub starts its own."""
    from tests.hub.test_lti_rules import load_hub_config

    own = load_hub_config(monkeypatch)
    assert "should_start" not in own.ConfigurableHTTPProxy  # JupyterHub's default: start it
    external = load_hub_config(monkeypatch, PROXY_API_URL="http://course2-proxy:8001")
    assert external.ConfigurableHTTPProxy.should_start is False
    assert external.ConfigurableHTTPProxy.api_url == "http://course2-proxy:8001"
    assert external.JupyterHub.cleanup_servers is False


def test_certificate_renewal_runs_certbot_with_the_sites_directories_and_ca(tmp_path):
    service = render_template(tmp_path, "tls/templates/certificate-renewal.service.j2",
                              dlcourse_tls_acme_ca_bundle="/etc/ssl/campus-acme-ca.pem",
                              dlcourse_tls_acme_config_dir="/srv/letsencrypt").read_text()
    command = re.search(r"^ExecStart=(.+)$", service, re.MULTILINE).group(1).split()
    assert command[:2] == ["/usr/bin/certbot", "renew"]
    assert "--config-dir=/srv/letsencrypt" in command
    assert re.findall(r"^Environment=(.+)$", service, re.MULTILINE) == [
        "REQUESTS_CA_BUNDLE=/etc/ssl/campus-acme-ca.pem"]
    public_ca = render_template(tmp_path, "tls/templates/certificate-renewal.service.j2")
    assert "Environment=" not in public_ca.read_text()
    timer = render_template(tmp_path, "tls/templates/certificate-renewal.timer.j2").read_text()
    assert "OnCalendar=*-*-* 00,12:00:00" in timer and "Persistent=true" in timer


def backup_checks():
    """The backup role's checks of its settings (its first tasks, the asserts)."""
    tasks = yaml.safe_load((ROLES_DIR / "backup" / "tasks" / "main.yml").read_text())
    return [task for task in tasks if "ansible.builtin.assert" in task]


@pytest.mark.parametrize("overrides, accepted", [
    ({}, False),  # the defaults: no second copy, and not asked for one copy only
    ({"dlcourse_backup_rsync_target": "backup@nas:/srv/b"}, False),  # unencrypted
    ({"dlcourse_backup_rsync_target": "backup@nas:/srv/b",
      "dlcourse_backup_age_recipients": ["age1example"]}, True),
    ({"dlcourse_backup_single_copy": True}, True),
])
def test_backups_leave_the_host_encrypted_unless_one_copy_is_asked_for(
        tmp_path, overrides, accepted):
    result = run_with_role_vars(tmp_path, backup_checks(), must_pass=False, **overrides)
    assert (result.returncode == 0) is accepted, result.stdout[-2000:]
    if not accepted:
        assert "Backups need a second copy off this host" in result.stdout


def test_backups_include_homes_by_default():
    defaults = yaml.safe_load((ROLES_DIR / "backup" / "defaults" / "main.yml").read_text())
    assert defaults["dlcourse_backup_include_homes"] is True


def test_grafana_is_provisioned_with_this_prometheus_and_the_dashboard(tmp_path):
    settings = {"dlcourse_monitoring_prometheus_listen": "127.0.0.1:9191",
                "dlcourse_monitoring_grafana_listen": "127.0.0.1:3300"}
    datasource = yaml.safe_load(render_template(
        tmp_path, "monitoring/templates/grafana-datasource.yml.j2", **settings).read_text())
    (source,) = datasource["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == \
        ("prometheus", "http://127.0.0.1:9191", True)
    dashboard = json.loads((ROLES_DIR / "monitoring/files/grafana-dashboard.json").read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"]  # the dashboard finds the provisioned source
    providers = yaml.safe_load(render_template(
        tmp_path, "monitoring/templates/grafana-dashboards.yml.j2").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards/dlcourse"]
    service = render_template(tmp_path, "monitoring/templates/grafana-server.conf.j2",
                              **settings).read_text()
    environment = dict(line.removeprefix("Environment=").split("=", 1)
                       for line in service.splitlines() if line.startswith("Environment="))
    assert environment["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert environment["GF_SERVER_HTTP_PORT"] == "3300"
    assert environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/dlcourse-admin-password"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"


@pytest.mark.parametrize("overrides, accepted", [
    ({}, False),  # no package source: Grafana is not in Debian
    ({"dlcourse_monitoring_grafana_apt_repository": "deb https://grafana.example stable main"},
     False),  # a repository without its key
    ({"dlcourse_monitoring_grafana_deb": "files/grafana.deb"}, True),
    ({"dlcourse_monitoring_grafana_deb": "files/grafana.deb",
      "dlcourse_monitoring_prometheus_install": False}, False),  # no data source
])
def test_grafana_needs_a_package_source_and_this_prometheus(tmp_path, overrides, accepted):
    tasks = yaml.safe_load((ROLES_DIR / "monitoring" / "tasks" / "grafana.yml").read_text())
    checks = [task for task in tasks if "ansible.builtin.assert" in task]
    result = run_with_role_vars(tmp_path, checks, must_pass=False, **overrides)
    assert (result.returncode == 0) is accepted, result.stdout[-2000:]
