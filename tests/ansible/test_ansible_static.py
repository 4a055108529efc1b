"""The playbooks parse, lint clean, and every role setting is documented for operators.

No Docker or target host needed. Without ansible-core / ansible-lint the tests skip on a
developer machine and FAIL under CI=true (tests/conftest.py ``require``).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ansible.ansible_testing import (
    ANSIBLE_DIR,
    GROUP_VARS_EXAMPLE,
    PLAYBOOKS,
    ROLES_DIR,
    ansible_env,
    run_with_role_vars,
    tool,
)

ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if p.is_dir())
YAMA = Path("/proc/sys/kernel/yama")


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook):
    result = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check", "-i", "inventory.example.yml", playbook],
        cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean():
    """ansible-lint with the committed .ansible-lint (production profile, one justified skip)."""
    result = subprocess.run(
        [tool("ansible-lint"), "--nocolor"], cwd=ANSIBLE_DIR, env=ansible_env(),
        capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output


def role_defaults():
    """{setting: role} for every key of every role's defaults/main.yml."""
    settings = {}
    for role in ROLES:
        path = ROLES_DIR / role / "defaults" / "main.yml"
        if path.exists():
            for key in yaml.safe_load(path.read_text()) or {}:
                settings[key] = role
    return settings


def test_every_setting_is_namespaced_and_commented():
    """One `dlcourse_` namespace; each setting has a comment in its paragraph (the lines
    down from the last blank one), so defaults/main.yml documents every knob."""
    for role in ROLES:
        path = ROLES_DIR / role / "defaults" / "main.yml"
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            key = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
            if not key:
                continue
            assert key.group(1).startswith("dlcourse_"), f"{path}: {key.group(1)}"
            paragraph = []
            for above in reversed(lines[:number]):
                if not above.strip():
                    break
                paragraph.append(above)
            assert any(x.lstrip().startswith("#") for x in paragraph), (
                f"{path}: {key.group(1)} has no comment in its paragraph")


def test_group_vars_example_lists_every_setting():
    """Every role setting appears in the example (set or commented at its default)."""
    text = GROUP_VARS_EXAMPLE.read_text()
    missing = [key for key in role_defaults()
               if not re.search(rf"^#? ?{key}:", text, re.MULTILINE)]
    assert not missing, f"not in {GROUP_VARS_EXAMPLE.name}: {missing}"


def test_role_readmes_list_their_settings():
    for key, role in role_defaults().items():
        assert f"`{key}`" in (ROLES_DIR / role / "README.md").read_text(), (role, key)


def test_group_vars_example_sets_only_known_settings():
    """A typo in a setting name would be ignored by Ansible: the example has none."""
    example = yaml.safe_load(GROUP_VARS_EXAMPLE.read_text())
    known = set(role_defaults())
    unknown = [key for key in example if key not in known]
    assert not unknown, unknown


def test_grafana_dashboard_is_importable_json():
    dashboard = json.loads((ROLES_DIR / "monitoring" / "files" / "grafana-dashboard.json")
                           .read_text())
    assert dashboard["uid"] and dashboard["title"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs and all('dlcourse_project="$project"' in e for e in exprs)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def rendered_hub_environment(tmp_path, **overrides):
    """The stack role's hub container environment, rendered by Ansible itself from every
    role's defaults and the role's vars, with ``overrides`` as extra vars."""
    run_with_role_vars(tmp_path, [{"ansible.builtin.copy": {
        "content": "{{ dlcourse_hub_env | to_json }}", "dest": str(tmp_path / "env.json"),
        "mode": "0600"}}], **overrides)
    return json.loads((tmp_path / "env.json").read_text())


def test_hub_environment_follows_the_chosen_login(tmp_path):
    oidc = rendered_hub_environment(tmp_path, dlcourse_oidc_authorize_url="https://idp/a",
                                    dlcourse_oidc_token_url="https://idp/t",
                                    dlcourse_oidc_userdata_url="https://idp/u")
    assert oidc["HUB_AUTHENTICATOR"] == "oidc" and oidc["OIDC_TOKEN_URL"] == "https://idp/t"
    assert not [k for k in oidc if k.startswith("LTI13_")]

    lti = rendered_hub_environment(
        tmp_path, dlcourse_login="lti13", dlcourse_course_ids=["dl101", "ml101"],
        dlcourse_lti13_issuer="https://lms.example.edu", dlcourse_lti13_client_id="10000",
        dlcourse_lti13_context_courses={"1:3f2a9c/4dde05": "dl101", "2:b7/ML 7": "ml101"},
        dlcourse_lti13_deployment_ids=["1:3f2a9c", "2:b7"])
    assert lti["HUB_AUTHENTICATOR"] == "lti13" and lti["LTI13_CLIENT_ID"] == "10000"
    assert lti["LTI13_CONTEXT_COURSES"] == "1:3f2a9c/4dde05=dl101,2:b7/ML 7=ml101"
    assert lti["LTI13_DEPLOYMENT_IDS"] == "1:3f2a9c,2:b7"
    assert lti["COURSE_IDS"] == "dl101,ml101" and lti["JUPYTERHUB_CRYPT_KEY"]
    assert not [k for k in lti if k.startswith("OIDC_")]


def run_hardening_role(tmp_path, *args, **overrides):
    """The hardening role alone against this machine, in check mode (nothing changes)."""
    playbook = tmp_path / "hardening.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "roles": ["hardening"]}]))
    extra = {"ansible_python_interpreter": sys.executable, "dlcourse_hub_hostname": "localhost",
             "dlcourse_ptrace_scope_sysctl_file": str(tmp_path / "60-dlcourse-ptrace.conf"),
             **overrides}
    return subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", "--check", "--diff",
         str(playbook), "-e", json.dumps(extra), *args], cwd=ANSIBLE_DIR, env=ansible_env(),
        capture_output=True, text=True, timeout=120, check=False)


def test_ptrace_scope_is_set_or_skipped_with_a_reason(tmp_path):
    result = run_hardening_role(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    if YAMA.exists():  # a kernel with Yama: the setting (check mode: would be) applied
        assert "TASK [hardening : Set who may ptrace (kernel.yama.ptrace_scope)" in output
        assert "this kernel has no Yama" not in output
    else:  # this machine's kernel: skipped, and said why
        assert "Skipping kernel.yama.ptrace_scope: this kernel has no Yama" in output
    assert not (tmp_path / "60-dlcourse-ptrace.conf").exists()  # --check wrote nothing


@pytest.mark.parametrize("bad", [{"dlcourse_ptrace_scope": 4},
                                 {"dlcourse_ptrace_scope": "off"},
                                 {"dlcourse_ptrace_scope_sysctl_file": "ptrace.conf"}])
def test_ptrace_scope_settings_are_checked(tmp_path, bad):
    result = run_hardening_role(tmp_path, **bad)
    assert result.returncode != 0
    assert "dlcourse_ptrace_scope must be 0, 1, 2 or 3" in result.stdout + result.stderr


def test_scrape_jobs_send_the_metrics_token(tmp_path):
    """Both scrape jobs send the bearer token from a file; the grading service and the
    hub's prometheus service get the same secret."""
    run_with_role_vars(tmp_path, [
        {"ansible.builtin.template": {
            "src": str(ROLES_DIR / "monitoring" / "templates" / "prometheus-scrape.yml.j2"),
            "dest": str(tmp_path / "scrape.yml"), "mode": "0600"}},
        {"ansible.builtin.copy": {
            "content": "{{ {'hub': dlcourse_hub_env, 'grader': dlcourse_grader_env} "
                       "| to_json }}",
            "dest": str(tmp_path / "env.json"), "mode": "0600"}},
    ], inventory_hostname="vm")
    jobs = yaml.safe_load((tmp_path / "scrape.yml").read_text())["scrape_configs"]
    assert {job["metrics_path"] for job in jobs} == {"/metrics", "/hub/metrics"}
    for job in jobs:
        assert job["authorization"] == {
            "credentials_file": "/etc/prometheus/dlcourse-metrics-token"}, job
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["grader"]["GRADER_METRICS_TOKEN"] == "<prometheus_token>"
    assert env["hub"]["HUB_PROMETHEUS_API_TOKEN"] == "<prometheus_token>"
    # the hub is HTTPS-only, so the results page's session cookie is Secure
    assert env["grader"]["GRADER_COOKIE_SECURE"] == "true"


def stack_task(name):
    tasks = yaml.safe_load((ROLES_DIR / "stack" / "tasks" / "main.yml").read_text())
    return next(t for t in tasks if t["name"] == name)


def rendered_stack(tmp_path, **overrides):
    """The stack role's networks and its two containers' settings, rendered by Ansible
    from the role's own tasks with every role's defaults and vars."""
    networks = stack_task(
        "Create the hub's and the grading service's network, and the students' network")
    stack = {
        "network": networks["community.docker.docker_network"],
        "networks": networks["loop"],
        "hub": stack_task("Run JupyterHub")["community.docker.docker_container"],
        "grader": stack_task("Run the grading service")["community.docker.docker_container"],
        "proxy": stack_task("Run the proxy (configurable-http-proxy)")[
            "community.docker.docker_container"],
    }
    run_with_role_vars(tmp_path, [{
        "ansible.builtin.copy": {"content": "{{ stack | to_json }}",
                                 "dest": str(tmp_path / "stack.json"), "mode": "0600"},
        "vars": {"stack": {k: v for k, v in stack.items() if k != "network"}}}], **overrides)
    return {"network": stack["network"], **json.loads((tmp_path / "stack.json").read_text())}


def test_student_servers_get_a_network_of_their_own(tmp_path):
    """DockerSpawner puts student servers on <project>-students, an internal network with
    no host address that only the hub and the grading service join besides them; the
    names the servers call (hub API, grading service) are those two containers'."""
    stack = rendered_stack(tmp_path, dlcourse_project="course2")
    assert stack["network"]["internal"] == "{{ item.internal }}"
    assert stack["network"]["driver_options"] == "{{ item.options }}"
    assert stack["networks"] == [
        {"name": "course2-net", "internal": False, "options": {}},
        {"name": "course2-students", "internal": True,
         "options": {"com.docker.network.bridge.inhibit_ipv4": "true"}},
    ]
    for container in ("hub", "grader", "proxy"):
        assert stack[container]["networks"] == [{"name": "course2-net"},
                                                {"name": "course2-students"}], container
        assert stack[container]["network_mode"] == "course2-net", container
    hub_env = stack["hub"]["env"]
    assert hub_env["DOCKER_NETWORK_NAME"] == "course2-students"
    assert hub_env["HUB_CONNECT_HOST"] == stack["hub"]["name"] == "course2-hub"
    assert hub_env["GRADER_SERVICE_URL"] == f"http://{stack['grader']['name']}:5000"


def test_the_proxy_runs_in_its_own_container_and_outlives_the_hub(tmp_path):
    """configurable-http-proxy in <project>-proxy (as z2jh runs it): it publishes the
    loopback port nginx forwards to, sends everything else to the hub, and the hub only
    talks to its API with the shared token, so the routes survive a hub restart."""
    stack = rendered_stack(tmp_path, dlcourse_project="course2", dlcourse_hub_host_port=8123)
    proxy, hub = stack["proxy"], stack["hub"]
    assert proxy["name"] == "course2-proxy" and proxy["image"] == hub["image"]
    assert proxy["published_ports"] == ["127.0.0.1:8123:8000"]
    assert "published_ports" not in hub  # nothing reaches the hub but through the proxy
    assert proxy["user"] == "65534:65534"
    assert proxy["entrypoint"] == ["configurable-http-proxy"]
    assert "--default-target=http://course2-hub:8081" in proxy["command"]
    assert "--api-port=8001" in proxy["command"]
    assert hub["env"]["PROXY_API_URL"] == "http://course2-proxy:8001"
    assert hub["env"]["CONFIGPROXY_AUTH_TOKEN"] == proxy["env"]["CONFIGPROXY_AUTH_TOKEN"] \
        == "<proxy_auth_token>"


@pytest.mark.parametrize("overrides, memory", [({}, "2g"),
                                               ({"dlcourse_grader_memory": "3G"}, "3G")])
def test_grading_service_container_has_a_memory_limit(tmp_path, overrides, memory):
    grader = rendered_stack(tmp_path, **overrides)["grader"]
    assert grader["memory"] == grader["memory_swap"] == memory  # no swap on top


@pytest.mark.parametrize("memory", ["lots", "2 g", "", "-1g"])
def test_grading_service_memory_is_checked(tmp_path, memory):
    check = stack_task("Check the grading settings")
    result = run_with_role_vars(tmp_path, [check], must_pass=False,
                                dlcourse_grader_memory=memory)
    assert result.returncode != 0
    assert "dlcourse_grader_memory a Docker size" in result.stdout + result.stderr
