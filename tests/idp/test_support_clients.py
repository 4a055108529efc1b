"""Tests of the e2e support clients (tests/e2e/support) without a real hub.

- ``oidc_login.login`` against the real demo IdP and a minimal fake hub that
  mimics GenericOAuthenticator's ``/hub/oauth_login`` and
  ``/hub/oauth_callback`` (including a JupyterHub-style 403 error page).
- ``kernel.run_code`` against a real local Jupyter Server under a
  ``/user/<name>/`` base URL, like a single-user server behind the hub.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from scripts.demo_idp import DEMO_PASSWORD, free_port
from tests.conftest import stop_process
from tests.e2e.support.kernel import execute, run_code
from tests.e2e.support.oidc_login import LoginError, login, page_error_text, xsrf_headers

ROLL_RE = r"^[A-Z]{2,3}\d{2}[A-Z]\d{3}$|^FAC\d{4}$"

ERROR_PAGE = """<!DOCTYPE html><html><head><title>JupyterHub</title></head><body>
<noscript><div id="noscript">JupyterHub requires JavaScript.</div></noscript>
<div class="error"><h1>403 : Forbidden</h1><p>{message}</p></div>
<div class="modal fade" id="error-dialog" aria-hidden="true"><div class="modal-body">
<div class="ajax-error alert-danger">The error</div></div></div>
</body></html>"""


def make_fake_hub(idp, port: int, redirect_uri: str):
    """A tiny stand-in for JupyterHub + GenericOAuthenticator."""
    states: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def _send(self, status, body="", headers=()):
            data = body.encode()
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server API
            url = urlsplit(self.path)
            if url.path == "/hub/oauth_login":
                state = secrets.token_urlsafe(8)
                states.add(state)
                query = urlencode(
                    {
                        "client_id": idp.client_id,
                        "response_type": "code",
                        "scope": "openid profile email",
                        "redirect_uri": redirect_uri,
                        "state": state,
                    }
                )
                self._send(
                    302,
                    headers=[
                        ("Location", f"{idp.authorize_url}?{query}"),
                        ("Set-Cookie", f"oauthenticator-state={state}; Path=/hub/; HttpOnly"),
                    ],
                )
                return
            if url.path == "/hub/oauth_callback":
                query = parse_qs(url.query)
                cookie = SimpleCookie(self.headers.get("Cookie", ""))
                state = query.get("state", [""])[0]
                if state not in states or cookie.get("oauthenticator-state").value != state:
                    self._send(400, ERROR_PAGE.format(message="OAuth state mismatch"))
                    return
                tokens = requests.post(
                    idp.url_for("/token"),
                    data={
                        "grant_type": "authorization_code",
                        "code": query["code"][0],
                        "redirect_uri": redirect_uri,
                        "client_id": idp.client_id,
                        "client_secret": idp.client_secret,
                    },
                    timeout=10,
                ).json()
                info = requests.get(
                    idp.url_for("/me"),
                    headers={"Authorization": f"Bearer {tokens['access_token']}"},
                    timeout=10,
                ).json()
                roll = info.get("roll_number")
                if not roll or not re.match(ROLL_RE, roll):
                    self._send(
                        403, ERROR_PAGE.format(message=f"No valid roll number for {info['sub']}.")
                    )
                    return
                self._send(
                    302,
                    headers=[
                        ("Location", "/hub/"),
                        ("Set-Cookie", f"jupyterhub-hub-login={info['sub']}; Path=/hub/"),
                        ("Set-Cookie", "_xsrf=xsrf-token-value; Path=/hub/"),
                    ],
                )
                return
            if url.path == "/hub/":
                # Following this would spawn a server on a real hub: must not be reached.
                self._send(500, "login() followed the redirect after oauth_callback")
                return
            self._send(404, "not found")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def fake_hub(demo_idp, fake_hub_port, redirect_uri):
    server = make_fake_hub(demo_idp, fake_hub_port, redirect_uri)
    try:
        yield f"http://localhost:{fake_hub_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_login_returns_session_with_hub_cookie(fake_hub):
    session = login(fake_hub, "student1", DEMO_PASSWORD)
    assert session.cookies.get("jupyterhub-hub-login") == "student1"
    assert xsrf_headers(session) == {"X-XSRFToken": "xsrf-token-value"}


def test_login_accepts_hub_suffix_and_trailing_slash(fake_hub):
    session = login(fake_hub + "/hub/", "instructor1", DEMO_PASSWORD)
    assert session.cookies.get("jupyterhub-hub-login") == "instructor1"


def test_login_wrong_password_raises_idp_error(fake_hub):
    with pytest.raises(LoginError) as info:
        login(fake_hub, "student2", "not-the-password")
    err = info.value
    assert err.stage == "idp-login"
    assert err.status_code == 401
    assert err.message == "Invalid username or password."


@pytest.mark.parametrize(("username", "detail"), [("noroll", "noroll"), ("badroll", "badroll")])
def test_login_refused_by_hub_raises_with_page_text(fake_hub, username, detail):
    with pytest.raises(LoginError) as info:
        login(fake_hub, username, DEMO_PASSWORD)
    err = info.value
    assert err.stage == "hub"
    assert err.status_code == 403
    assert err.message == f"403 : Forbidden No valid roll number for {detail}."
    assert "The error" not in str(err)  # hidden modal text is ignored


def test_page_error_text_fallbacks():
    assert page_error_text("<html><body><h1>Not Found</h1><p>x</p></body></html>") == "Not Found"
    assert page_error_text("<p>plain text</p>") == "plain text"
    assert page_error_text('<p role="alert">bad <b>thing</b></p>') == "bad thing"


# ---------------------------------------------------------------------------
# kernel.run_code against a real Jupyter Server
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    jupyter = shutil.which("jupyter-server", path=search)
    if jupyter is None:
        pytest.fail("jupyter-server is not installed in the test environment")
    port = free_port()
    token = secrets.token_hex(16)
    root = tmp_path_factory.mktemp("jupyter-root")
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            jupyter,
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--ServerApp.base_url=/user/tester/",
            f"--ServerApp.root_dir={root}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/user/tester"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(
                    f"{base}/api/status", timeout=2, headers={"Authorization": f"token {token}"}
                ).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("jupyter server did not start")
            time.sleep(0.2)
        yield base, token
    finally:
        stop_process(proc, timeout=15)
        log.close()


def _kernels(base, token):
    return requests.get(
        f"{base}/api/kernels", headers={"Authorization": f"token {token}"}, timeout=10
    ).json()


def test_run_code_collects_stdout(jupyter_server):
    base, token = jupyter_server
    stdout, error = run_code(base, token, "for i in range(3):\n    print('line', i)\n")
    assert error is None
    assert stdout == "line 0\nline 1\nline 2\n"
    assert _kernels(base, token) == []  # the kernel was deleted


def test_run_code_reports_errors(jupyter_server):
    base, token = jupyter_server
    stdout, error = run_code(base + "/", token, "print('before')\n1/0\n")
    assert stdout == "before\n"
    assert error is not None
    assert error.ename == "ZeroDivisionError"
    assert str(error) == "ZeroDivisionError: division by zero"
    assert error.traceback


def test_execute_separates_stderr_and_results(jupyter_server):
    base, token = jupyter_server
    result = execute(base, token, "import sys\nprint('err', file=sys.stderr)\n6 * 7")
    assert result.stdout == ""
    assert result.stderr == "err\n"
    assert result.results == [{"text/plain": "42"}]
    assert result.status == "ok"


@pytest.mark.slow
def test_run_code_timeout(jupyter_server):
    base, token = jupyter_server
    with pytest.raises(TimeoutError):
        run_code(base, token, "import time\ntime.sleep(30)", timeout=4)
    assert _kernels(base, token) == []


def test_run_code_bad_token(jupyter_server):
    base, _ = jupyter_server
    with pytest.raises(RuntimeError, match="403|401"):
        run_code(base, "wrong-token", "print(1)")
