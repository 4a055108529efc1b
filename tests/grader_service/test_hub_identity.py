"""Integration: a REAL JupyterHub process resolves tokens for HubIdentityProvider."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

from grader_service.auth import AuthError, HubIdentityProvider, Role

HERE = os.path.dirname(__file__)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Start jupyterhub (MemoryProxy, test authenticator) and yield its API facts."""
    workdir = tmp_path_factory.mktemp("hub")
    shutil.copy(os.path.join(HERE, "hub", "jupyterhub_config.py"), workdir)
    port = free_port()
    env = dict(os.environ, HUB_PORT=str(port), HUB_PUBLIC_PORT=str(free_port()),
               GRADER_TOKEN=secrets.token_hex(16), ADMIN_TOKEN=secrets.token_hex(16),
               JUPYTERHUB_CRYPT_KEY=secrets.token_hex(32))
    jupyterhub = os.path.join(os.path.dirname(sys.executable), "jupyterhub")
    with open(workdir / "hub.log", "wb") as log:
        proc = subprocess.Popen([jupyterhub, "-f", "jupyterhub_config.py"], cwd=workdir,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/hub"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("jupyterhub did not start:\n" + (workdir / "hub.log").read_text())
            time.sleep(0.3)
        yield {"base": base, "api": base + "/api", "grader_token": env["GRADER_TOKEN"],
               "admin_token": env["ADMIN_TOKEN"]}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def login(hub, username):
    """Log in through the hub's form so the authenticator stores auth_state."""
    session = requests.Session()
    session.get(hub["base"] + "/login", timeout=10)
    xsrf = session.cookies.get("_xsrf")
    reply = session.post(hub["base"] + "/login", timeout=10, allow_redirects=False,
                         data={"username": username, "password": "x", "_xsrf": xsrf})
    assert reply.status_code in (302, 303), reply.text[:500]


def user_token(hub, username, **model):
    reply = requests.post(f"{hub['api']}/users/{username}/tokens", json=model, timeout=10,
                          headers={"Authorization": f"token {hub['admin_token']}"})
    reply.raise_for_status()
    return reply.json()["token"]


def test_token_resolves_to_name_groups_and_roll_number(hub):
    login(hub, "alice")
    provider = HubIdentityProvider(hub["api"], hub["grader_token"], cache_seconds=30)
    identity = provider.identify(user_token(hub, "alice"))
    assert identity.username == "alice"
    assert "nbgrader-ml101" in identity.groups
    assert identity.role_in("ml101") is Role.STUDENT
    assert identity.roll_number == "R-alice"


def test_instructor_without_auth_state(hub):
    provider = HubIdentityProvider(hub["api"], hub["grader_token"])
    identity = provider.identify(user_token(hub, "prof"))  # never logged in: no auth_state
    assert identity.role_in("ml101") is Role.INSTRUCTOR and identity.roll_number is None


def test_forged_token_is_rejected(hub):
    with pytest.raises(AuthError):
        HubIdentityProvider(hub["api"], hub["grader_token"]).identify("forged-" + "0" * 24)


def test_expired_token_is_rejected(hub):
    token = user_token(hub, "alice", expires_in=1)
    time.sleep(2.5)
    with pytest.raises(AuthError):
        HubIdentityProvider(hub["api"], hub["grader_token"], cache_seconds=0).identify(token)


class CountingSession(requests.Session):
    """A requests session that counts the hub API calls made through it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def request(self, *args, **kwargs):
        self.calls += 1
        return super().request(*args, **kwargs)


def test_a_token_resolved_by_one_process_is_reused_by_another(hub, tmp_path):
    """Two providers (two processes of the service) share the database tier of the cache;
    an expired entry is resolved with the hub again."""
    from sqlalchemy.orm import sessionmaker

    from grader_service.db import make_engine
    from grader_service.identity_cache import SharedIdentityCache
    from grader_service.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'grader.sqlite'}")
    upgrade(engine)
    shared = SharedIdentityCache(sessionmaker(engine, expire_on_commit=False))
    login(hub, "alice")
    token = user_token(hub, "alice")
    first, second = CountingSession(), CountingSession()
    one = HubIdentityProvider(hub["api"], hub["grader_token"], session=first, shared=shared)
    other = HubIdentityProvider(hub["api"], hub["grader_token"], session=second, shared=shared)
    assert one.identify(token).roll_number == "R-alice" and first.calls == 2
    again = other.identify(token)
    assert (again.username, again.roll_number) == ("alice", "R-alice")
    assert "nbgrader-ml101" in again.groups and second.calls == 0
    short = HubIdentityProvider(hub["api"], hub["grader_token"], session=second,
                                shared=SharedIdentityCache(shared.sessions), cache_seconds=0.5)
    fresh = user_token(hub, "alice")
    short.identify(fresh)
    time.sleep(1.0)
    assert HubIdentityProvider(hub["api"], hub["grader_token"], session=second, shared=shared,
                               cache_seconds=0.5).identify(fresh).username == "alice"
    assert second.calls == 4  # the expired shared entry was resolved with the hub again
    engine.dispose()
