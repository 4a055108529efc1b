"""Operations settings of the hub's configuration: restarts that keep student servers,
settings from a config.d folder, idle culling."""

from tests.hub.test_lti_rules import load_hub_config


def test_hub_restart_keeps_student_servers(monkeypatch):
    assert load_hub_config(monkeypatch).JupyterHub.cleanup_servers is False


def test_config_d_files_run_last_in_name_order(monkeypatch, tmp_path):
    (tmp_path / "50-site.py").write_text("c.Spawner.start_timeout = 300\n"
                                         "c.DockerSpawner.mem_limit = '4G'\n")
    (tmp_path / "90-late.py").write_text("c.Spawner.start_timeout = 600\n")
    (tmp_path / "README").write_text("not python: ignored\n")
    config = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(tmp_path))
    assert config.Spawner.start_timeout == 600
    assert config.DockerSpawner.mem_limit == "4G"
    assert config.Spawner.http_timeout == 90  # the hub's own setting, not overridden


def test_a_missing_config_d_is_fine(monkeypatch, tmp_path):
    config = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(tmp_path / "none"))
    assert config.Spawner.start_timeout == 120
