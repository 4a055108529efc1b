"""Operations settings of the hub's configuration: restarts that keep student servers,
settings from a config.d folder, idle culling."""

from tests.hub.test_lti_rules import load_hub_config


def test_hub_restart_keeps_student_servers(monkeypatch):
    assert load_hub_config(monkeypatch).JupyterHub.cleanup_servers is False
