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


def load_server_config(monkeypatch, **env):
    from traitlets.config.loader import PyFileConfigLoader

    from tests.conftest import REPO

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyter_server_config.py",
                              path=str(REPO / "images" / "singleuser")).load_config()


def test_idle_kernels_are_culled_even_with_an_open_tab(monkeypatch):
    kernels = load_server_config(monkeypatch).MappingKernelManager
    assert kernels.cull_idle_timeout == 3600 and kernels.cull_connected is True
    assert kernels.cull_busy is False and kernels.cull_interval <= kernels.cull_idle_timeout


def test_kernel_culling_can_be_turned_off(monkeypatch):
    config = load_server_config(monkeypatch, KERNEL_CULL_IDLE_SECONDS="0")
    assert "cull_idle_timeout" not in config.MappingKernelManager


def test_hub_idle_culler_timeout_follows_the_environment(monkeypatch):
    config = load_hub_config(monkeypatch, HUB_CULL_IDLE_SECONDS="7200")
    culler = next(s for s in config.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=7200" in culler["command"]
    off = load_hub_config(monkeypatch, HUB_CULL_IDLE_SECONDS="0")
    assert not [s for s in off.JupyterHub.services if s["name"] == "idle-culler"]


def test_the_benchmarks_stock_baseline_is_plain_dockerspawner(monkeypatch, tmp_path):
    """benchmarks/hub_load.py --compare-stock mounts this file as the hub's config.d: the
    spawn line, the pending page, kernel culling and the course hooks are gone."""
    import shutil

    from dockerspawner import DockerSpawner

    from tests.conftest import REPO

    shutil.copy(REPO / "benchmarks" / "stock_hub_config.py", tmp_path)
    config = load_hub_config(monkeypatch, JUPYTERHUB_CONFIG_D=str(tmp_path))
    assert config.JupyterHub.spawner_class is DockerSpawner
    assert config.JupyterHub.concurrent_spawn_limit == 100
    assert config.JupyterHub.tornado_settings == {}
    assert config.DockerSpawner.image == "dlcourse/stock-singleuser:latest"
    assert config.Spawner.args == [] and config.Spawner.auth_state_hook is None
    assert config.Spawner.start_timeout == 120  # the same timeouts as the project's
