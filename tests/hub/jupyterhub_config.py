"""Test overlay: the real ``hub/jupyterhub_config.py``, run as a local process.

It loads the real file (``COURSE_HUB_CONFIG``) with the environment the test gives it,
then swaps what needs Docker or a separate process: no configurable-http-proxy (the
tests talk to the hub's own port, routes are only remembered), single-user servers as
local processes, state in ``TEST_HUB_STATE_DIR``, the hub on ``TEST_HUB_PORT``.
"""

import asyncio
import os
import sys
from pathlib import Path

from jupyterhub.proxy import Proxy
from traitlets import Dict

load_subconfig(os.environ["COURSE_HUB_CONFIG"])

state = Path(os.environ["TEST_HUB_STATE_DIR"])


class RememberingProxy(Proxy):
    """A proxy that only remembers its routes; nothing is proxied."""

    routes = Dict()

    async def start(self):
        pass

    async def stop(self):
        pass

    async def add_route(self, routespec, target, data):
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec):
        self.routes.pop(routespec, None)

    async def get_all_routes(self):
        return dict(self.routes)


c.JupyterHub.proxy_class = RememberingProxy
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['TEST_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['TEST_HUB_PORT']}"
c.JupyterHub.hub_connect_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
from jupyterhub.spawner import SimpleLocalProcessSpawner  # noqa: E402

from course_hub.spawn_queue import queued  # noqa: E402

c.JupyterHub.spawner_class = queued(SimpleLocalProcessSpawner)  # the real spawn line
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/tree"
kept = c.Spawner.args if isinstance(c.Spawner.args, list) else []  # kernel culling
c.Spawner.args = [*kept, "--allow-root"]  # CI runs the tests as root


async def slow_for_listed_users(spawner):
    """Hold a spawn (and its place in the spawn line) for the seconds that the file
    ``slow_spawns`` in the state directory gives its user: "<name> <seconds>" lines."""
    listed = state / "slow_spawns"
    for line in listed.read_text().splitlines() if listed.exists() else ():
        name, _, seconds = line.partition(" ")
        if name == spawner.user.name:
            await asyncio.sleep(float(seconds))


c.Spawner.pre_spawn_hook = slow_for_listed_users
