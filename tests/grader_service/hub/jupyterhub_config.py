"""Minimal real JupyterHub for the identity integration test (see test_hub_identity.py).

No configurable-http-proxy here: an in-memory Proxy keeps the route table and the
test talks to the hub's own port. Users log in through a test authenticator that
puts a roll number into auth_state exactly where OAuthenticator does.
"""

import os

from jupyterhub.auth import Authenticator
from jupyterhub.proxy import Proxy


class MemoryProxy(Proxy):
    """Route table in memory; nothing listens (configurable-http-proxy is not installed)."""

    should_start = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._routes = {}

    async def add_route(self, routespec, target, data):
        self._routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec):
        self._routes.pop(routespec, None)

    async def get_all_routes(self):
        return dict(self._routes)


class RollNumberAuthenticator(Authenticator):
    """Any password; auth_state["oauth_user"]["roll_number"] = "R-<name>"."""

    async def authenticate(self, handler, data):
        return {"name": data["username"],
                "auth_state": {"oauth_user": {"roll_number": "R-" + data["username"]}}}

c.JupyterHub.proxy_class = MemoryProxy
c.JupyterHub.authenticator_class = RollNumberAuthenticator
c.Authenticator.allow_all = True
c.Authenticator.enable_auth_state = True
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["HUB_PORT"])
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["HUB_PUBLIC_PORT"])
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.services = [
    {"name": "grader", "api_token": os.environ["GRADER_TOKEN"]},
    {"name": "test-admin", "api_token": os.environ["ADMIN_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {"name": "grader", "scopes": ["read:users", "read:users:groups", "read:groups", "admin:auth_state"], "services": ["grader"]},
    {"name": "test-admin", "scopes": ["admin:users", "tokens"], "services": ["test-admin"]},
]
c.JupyterHub.load_groups = {"nbgrader-ml101": {"users": ["alice"]}, "formgrade-ml101": {"users": ["prof"]}}
