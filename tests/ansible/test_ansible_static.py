"""The playbooks parse, lint clean, and every role setting is documented for operators.

No Docker or target host needed. Without ansible-core / ansible-lint the tests skip on a
developer machine and FAIL under CI=true (tests/conftest.py ``require``).
"""

import json
import re
import subprocess

import pytest
import yaml
from ansible_testing import (
    ANSIBLE_DIR,
    GROUP_VARS_EXAMPLE,
    PLAYBOOKS,
    ROLES_DIR,
    ansible_env,
    tool,
)

ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if p.is_dir())


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
