"""Helpers for the Ansible tests: the tools, running a playbook, reading its recap."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
