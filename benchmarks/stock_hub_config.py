"""The stock baseline of ``benchmarks/hub_load.py --compare-stock`` (a hub config.d file).

Loaded last by the project's hub config (``JUPYTERHUB_CONFIG_D``), it puts back what a
plain JupyterHub with DockerSpawner does, so the benchmark compares the two on one
machine in one run: DockerSpawner without the spawn line, JupyterHub's default limit
of concurrent spawns and pending page, no kernel culling, no course hooks, and the
``dlcourse/stock-singleuser`` image (JupyterLab and jupyterhub-singleuser, nothing of the
course). The login, the proxy, the network and the spawn timeouts stay the project's
(with JupyterHub's default timeouts 59 of 100 students were refused in the issue's
measurement, which compares nothing).
"""

from dockerspawner import DockerSpawner

c = get_config()  # noqa: F821

c.JupyterHub.spawner_class = DockerSpawner
c.JupyterHub.concurrent_spawn_limit = 100  # JupyterHub's default
c.JupyterHub.tornado_settings = {}
c.DockerSpawner.image = "dlcourse/stock-singleuser:latest"
c.Spawner.args = []
c.Spawner.auth_state_hook = None
