"""Start and stop the demo OIDC identity provider (``hub/demo-idp``): demo stack and tests.

Usage::

    with start_demo_idp(port=free_port(), issuer=None, bind_host="127.0.0.1") as idp:
        print(idp.authorize_url, idp.token_url, idp.userinfo_url)

The IdP is a Node program; ``npm ci`` is run first when its ``node_modules``
is missing. The process runs in its own process group, which is terminated
(SIGTERM, then SIGKILL) when the context exits. Its output goes to a log file
(``idp.log_path``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IDP_DIR = REPO_ROOT / "hub" / "demo-idp"

DEFAULT_CLIENT_ID = "jupyterhub"
DEFAULT_CLIENT_SECRET = "demo-client-secret"
DEFAULT_REDIRECT_URIS = ("http://localhost:8000/hub/oauth_callback",)

# Shared password of every account in hub/demo-idp/users.json.
DEMO_PASSWORD = "dl101-demo"

# Endpoint paths (relative to the issuer) served by the demo IdP.
AUTHORIZE_PATH = "/auth"
TOKEN_PATH = "/token"
USERINFO_PATH = "/me"


class IdPStartError(RuntimeError):
    """The IdP process did not become healthy."""


def idp_dir() -> Path:
    """Folder of the demo IdP (override with the DEMO_IDP_DIR env var)."""
    return Path(os.environ.get("DEMO_IDP_DIR") or DEFAULT_IDP_DIR)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_node_modules(directory: Path | None = None, timeout: float = 600) -> None:
    """Run ``npm ci`` in the IdP folder unless its dependencies are installed.

    A file lock serialises concurrent callers (e.g. pytest-xdist workers).
    """
    directory = Path(directory or idp_dir())
    marker = directory / "node_modules" / "oidc-provider" / "package.json"
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise IdPStartError("npm is not on PATH; it is needed to install the demo IdP")
    lock_path = Path(tempfile.gettempdir()) / "demo-idp-npm-ci.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists():
                return
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if result.returncode != 0:
                raise IdPStartError(
                    f"npm ci failed in {directory} (exit {result.returncode}):\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class DemoIdP:
    """A running demo IdP."""

    issuer: str
    port: int
    bind_host: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    process: subprocess.Popen
    log_path: Path
    local_url: str
    startup_seconds: float = 0.0
    _log_file: object = field(default=None, repr=False)

    @property
    def authorize_url(self) -> str:
        """Browser-facing authorization endpoint."""
        return self.issuer + AUTHORIZE_PATH

    @property
    def token_url(self) -> str:
        return self.issuer + TOKEN_PATH

    @property
    def userinfo_url(self) -> str:
        return self.issuer + USERINFO_PATH

    def url_for(self, path: str, base: str | None = None) -> str:
        """``path`` on ``base`` (default: the local loopback URL of the IdP)."""
        return (base or self.local_url).rstrip("/") + path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """Terminate the IdP's process group; SIGKILL if it does not exit in time."""
        proc = self.process
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _probe_host(bind_host: str) -> str:
    if bind_host in ("", "0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    if ":" in bind_host and not bind_host.startswith("["):
        return f"[{bind_host}]"
    return bind_host


def launch_demo_idp(
    port: int = 9000,
    issuer: str | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
    bind_host: str = "0.0.0.0",
    *,
    users_file: str | os.PathLike | None = None,
    cookie_keys: Iterable[str] | None = None,
    log_path: str | os.PathLike | None = None,
    startup_timeout: float = 60,
    npm_timeout: float = 600,
    extra_env: dict[str, str] | None = None,
) -> DemoIdP:
    """Start the IdP and wait until ``/health`` answers; the caller must ``stop()`` it."""
    directory = idp_dir()
    ensure_node_modules(directory, timeout=npm_timeout)
    node = shutil.which("node")
    if node is None:
        raise IdPStartError("node is not on PATH")

    issuer = (issuer or f"http://localhost:{port}").rstrip("/")
    if isinstance(redirect_uris, str):
        redirect_uris = tuple(u.strip() for u in redirect_uris.split(",") if u.strip())
    redirect_uris = tuple(redirect_uris)
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix=f"demo-idp-{port}-", suffix=".log")
        os.close(fd)
        log_path = name
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env.update(
        {
            "IDP_ISSUER": issuer,
            "IDP_PORT": str(port),
            "IDP_HOST": bind_host,
            "IDP_CLIENT_ID": client_id,
            "IDP_CLIENT_SECRET": client_secret,
            "IDP_REDIRECT_URIS": ",".join(redirect_uris),
        }
    )
    if users_file is not None:
        env["IDP_USERS_FILE"] = str(Path(users_file).resolve())
    if cookie_keys:
        env["IDP_COOKIE_KEYS"] = ",".join(cookie_keys)
    if extra_env:
        env.update(extra_env)

    log_file = open(log_path, "ab", buffering=0)  # noqa: SIM115 - closed in DemoIdP.stop
    started = time.monotonic()
    process = subprocess.Popen(
        [node, "server.mjs"],
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group, killed as a whole in stop()
    )
    idp = DemoIdP(
        issuer=issuer,
        port=port,
        bind_host=bind_host,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=redirect_uris,
        process=process,
        log_path=log_path,
        local_url=f"http://{_probe_host(bind_host)}:{port}",
        _log_file=log_file,
    )
    try:
        _wait_healthy(idp, startup_timeout)
    except BaseException:
        idp.stop()
        raise
    idp.startup_seconds = time.monotonic() - started
    return idp


def _wait_healthy(idp: DemoIdP, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health = idp.url_for("/health")
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not idp.alive():
            raise IdPStartError(
                f"demo IdP exited with code {idp.process.returncode} before becoming healthy; "
                f"log {idp.log_path}:\n{idp.log_text()[-4000:]}"
            )
        try:
            response = requests.get(health, timeout=2)
            if response.status_code == 200:
                return
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(0.1)
    raise IdPStartError(
        f"demo IdP not healthy at {health} after {timeout:.0f}s ({last_error}); "
        f"log {idp.log_path}:\n{idp.log_text()[-4000:]}"
    )


@contextlib.contextmanager
def start_demo_idp(*args, **kwargs) -> Iterator[DemoIdP]:
    """Context manager: a running demo IdP, stopped (process group killed) on exit.

    Takes exactly the arguments of :func:`launch_demo_idp`.
    """
    idp = launch_demo_idp(*args, **kwargs)
    try:
        yield idp
    finally:
        idp.stop()
