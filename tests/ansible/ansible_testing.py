"""Helpers for the Ansible tests: the tools, running a playbook, reading its recap."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.conftest import REPO, require

ANSIBLE_DIR = REPO / "ansible"
PLAYBOOKS = ("site.yml", "restore.yml")
ROLES_DIR = ANSIBLE_DIR / "roles"
GROUP_VARS_EXAMPLE = ANSIBLE_DIR / "group_vars" / "dlcourse.example.yml"

RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)", re.MULTILINE)
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \*+$")


def tool(name: str) -> str:
    """Path of an Ansible command: beside this Python (the venv) first, then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    require(found is not None, f"{name} is not installed (pip install ansible ansible-lint)")
    return found


def ansible_env(**extra: str) -> dict[str, str]:
    """Environment for ansible commands: this folder's ansible.cfg, plain output."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        # per-task timings in the saved logs (build/ansible-logs/)
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PY_COLORS": "0",
    })
    env.update(extra)
    return env


@dataclass
class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        match = RECAP.search(self.output)
        if not match:
            return {}
        return {k: int(v) for k, v in match.groupdict().items() if k != "host"}

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (to explain changed != 0)."""
        names, current = [], None
        for line in self.output.splitlines():
            task = TASK.match(line)
            if task:
                current = task.group("name")
            elif line.startswith("changed:") and current and current not in names:
                names.append(current)
        return names

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_playbook(playbook: str, inventory: Path, *args: str, timeout: float = 600) -> PlaybookRun:
    """Run ``ansible-playbook`` from the ansible/ folder; never raises on failure."""
    import time

    start = time.monotonic()
    result = subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), playbook, *args],
        cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, timeout=timeout,
        check=False)
    return PlaybookRun(result.returncode, result.stdout + result.stderr,
                       time.monotonic() - start)


def run_role_tasks(tmp_path, role, tasks_from, facts, **overrides):
    """Run ``roles/<role>/tasks/<tasks_from>.yml`` against this machine and return the
    named facts; the play ends before handlers (no engine or nginx is touched)."""
    out = tmp_path / "facts.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"ansible.builtin.include_role": {"name": role, "tasks_from": tasks_from}},
            {"ansible.builtin.copy": {
                "content": "{{ {" + ", ".join(f"'{f}': {f}" for f in facts) + "} | to_json }}",
                "dest": str(out), "mode": "0600"}},
            {"ansible.builtin.meta": "end_play"},
        ],
    }]))
    extra = {"ansible_python_interpreter": sys.executable, "dlcourse_hub_hostname": "localhost",
             **overrides}
    result = subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", json.dumps(extra)], cwd=ANSIBLE_DIR, env=ansible_env(),
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text())


def role_vars_files() -> list[str]:
    """Every role's defaults, then the vars of the roles whose templates the tests
    render (as a play that runs those roles has them)."""
    return [str(p) for p in sorted(ROLES_DIR.glob("*/defaults/main.yml"))] + \
        [str(ROLES_DIR / role / "vars" / "main.yml") for role in ("common", "stack", "tls")]


def run_with_role_vars(tmp_path, tasks, must_pass=True, **overrides):
    """Run ``tasks`` on localhost with :func:`role_vars_files` loaded as Ansible itself
    loads them, placeholder secrets, ``overrides`` as extra vars; return the finished
    process (``must_pass``: assert that it succeeded)."""
    files = role_vars_files()
    secrets = {k: f"<{k}>" for k in ("jupyterhub_crypt_key", "grader_hub_api_token",
                                     "ops_api_token", "prometheus_token",
                                     "proxy_auth_token")}
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "vars_files": files, "tasks": tasks}]))
    extra = {"dlcourse_secrets": secrets, "ansible_python_interpreter": sys.executable,
             **overrides}
    result = subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", json.dumps(extra)], cwd=ANSIBLE_DIR, env=ansible_env(),
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 or not must_pass, (
        result.stdout[-3000:] + result.stderr[-3000:])
    return result


def render_template(tmp_path, src, **overrides):
    """``src`` rendered by Ansible with :func:`role_vars_files`."""
    files = role_vars_files()
    dest = tmp_path / "rendered" / Path(src).name.removesuffix(".j2")
    dest.parent.mkdir(exist_ok=True)
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "vars_files": files,
        "tasks": [{"ansible.builtin.template": {"src": str(ROLES_DIR / src),
                                                "dest": str(dest), "mode": "0644"}}],
    }]))
    extra = {"ansible_python_interpreter": sys.executable, "dlcourse_hub_hostname": "hub.example.edu",
             "dlcourse_secrets": {}, **overrides}
    result = subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", json.dumps(extra)], cwd=ANSIBLE_DIR, env=ansible_env(),
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return dest
