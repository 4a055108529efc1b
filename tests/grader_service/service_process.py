"""Run the real service (``dl-grader serve``) as a subprocess behind a fake JupyterHub API.

Shared by the crash-safety test and ``benchmarks/submit_burst.py``. Every token
``<name>-token`` is user ``<name>``; ``prof`` teaches ``ml101``, everyone else studies
it with roll number ``R-<name>``.
"""

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time

import requests
from flask import Flask, abort, request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
SERVICE_TOKEN = "service-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_model(name):
    if name == "prof":
        return {"kind": "user", "name": name, "groups": ["formgrade-ml101"], "auth_state": {}}
    return {"kind": "user", "name": name, "groups": ["nbgrader-ml101"],
            "auth_state": {"roll_number": f"R-{name}"}}


def _fake_hub_app():
    app = Flask("fakehub")

    def token():
        return request.headers.get("Authorization", "").partition(" ")[2]

    @app.get("/hub/api/user")
    def user():
        if not token().endswith("-token"):
            abort(403)
        return _user_model(token()[: -len("-token")])

    @app.get("/hub/api/users/<name>")
    def user_by_name(name):
        if token() != SERVICE_TOKEN:
            abort(403)
        return _user_model(name)

    return app


class FakeHub:
    """The two hub API calls the service makes, served by waitress in its own process
    (so a benchmark's client threads do not slow the "hub" down)."""

    def __enter__(self):
        port = free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "fakehub",
                                      str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.api_url = f"http://127.0.0.1:{port}/hub/api"
        _wait_until_up(self.api_url + "/user", self.proc, timeout=30)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def wait_for(predicate, timeout, what):
    """Poll ``predicate`` every 0.1 s; fail the test if it is not true within ``timeout``."""
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _wait_until_up(url, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or no worker yet
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class ServiceProcess:
    """``dl-grader serve`` in its own process group, so ``kill()`` takes the workers too."""

    def __init__(self, data_dir, hub_url, workers=2, threads=16, processes=2, **env):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.threads = threads
        self.processes = processes
        self.env = dict(os.environ, GRADER_DATA_DIR=data_dir, JUPYTERHUB_API_URL=hub_url,
                        JUPYTERHUB_API_TOKEN=SERVICE_TOKEN, GRADER_WORKERS=str(workers),
                        GRADER_RUNNER="cheap_runner:SleepRunner", GRADER_EXPORTERS="csv",
                        PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get(
                            "PYTHONPATH")])))
        self.env.update(env)  # a caller's GRADER_* win over these defaults
        self.proc = None

    def start(self, timeout=30):
        dl_grader = os.path.join(os.path.dirname(sys.executable), "dl-grader")
        self.log = open(os.path.join(self.data_dir, "service.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [dl_grader, "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--threads", str(self.threads), "--processes", str(self.processes)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_up(self.url + "/health", self.proc, timeout)
        except RuntimeError as err:
            self.stop()  # never leave a half-started service behind
            raise RuntimeError(f"{err}: {self.logs()}") from None
        return self

    def logs(self, tail=3000):
        """The service's output (both runs share the file); the last ``tail`` characters."""
        with open(os.path.join(self.data_dir, "service.log"), "rb") as fh:
            text = fh.read().decode(errors="replace")
        return text[-tail:] if tail else text

    def kill(self):
        """``kill -9`` the whole process group (HTTP processes and the grading process)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        """Kill the group even if the supervisor has exited (its children may not have)."""
        if self.proc is not None and not self.log.closed:
            self.kill()


def pack_fixture(variant):
    """tar.gz of ``fixtures/ps0/<variant>``."""
    from grader_service.tarsafe import pack_directory

    return pack_directory(os.path.join(FIXTURES, "ps0", variant))


def release_ps0(url):
    reply = requests.post(
        f"{url}/api/courses/ml101/assignments/ps0/release", timeout=30,
        headers={"Authorization": "token prof-token"},
        files={"release": ("r.tar.gz", io.BytesIO(pack_fixture("release"))),
               "source": ("s.tar.gz", io.BytesIO(pack_fixture("source")))})
    reply.raise_for_status()


def submit(url, student, data, session=requests):
    """POST one submission as ``student``; return the reply."""
    return session.post(
        f"{url}/api/courses/ml101/assignments/ps0/submissions", timeout=60,
        headers={"Authorization": f"token {student}-token"},
        files={"submission": ("submission.tar.gz", data, "application/gzip")})


if __name__ == "__main__" and sys.argv[1:2] == ["fakehub"]:
    from waitress import serve

    serve(_fake_hub_app(), host="127.0.0.1", port=int(sys.argv[2]), threads=16, _quiet=True)
