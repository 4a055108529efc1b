"""Run code in a kernel through a Jupyter Server's REST + websocket API.

``run_code(server_url, token, code)`` starts a kernel with
``POST {server_url}/api/kernels``, sends one ``execute_request`` (Jupyter
messaging protocol 5.3) over ``{server_url}/api/kernels/<id>/channels``,
collects ``stream`` output and ``error`` messages until the ``execute_reply``
and the kernel's return to ``idle``, then deletes the kernel.

``server_url`` is a single-user server's base URL, e.g.
``http://localhost:8000/user/student1`` (through JupyterHub's proxy), and
``token`` a token the server accepts (a hub API token with access to that
server, or the server's own token).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

PROTOCOL_VERSION = "5.3"


@dataclass
class KernelError:
    """An ``error`` message (or error ``execute_reply``) from the kernel."""

    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.ename}: {self.evalue}"


@dataclass
class ExecutionResult:
    stdout: str = ""
    stderr: str = ""
    error: KernelError | None = None
    results: list[dict] = field(default_factory=list)  # execute_result/display_data 'data'
    status: str = ""
    kernel_id: str = ""


def _auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"token {token}"} if token else {}


def _ws_url(server_url: str, kernel_id: str, session_id: str) -> str:
    parts = urlsplit(server_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path}/api/kernels/{kernel_id}/channels"
    return urlunsplit((scheme, parts.netloc, path, f"session_id={session_id}", ""))


def _message(msg_type: str, content: dict, session_id: str, channel: str = "shell") -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "e2e-test",
            "session": session_id,
            "date": datetime.now(UTC).isoformat(),
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": channel,
        "buffers": [],
    }


def start_kernel(
    server_url: str,
    token: str | None,
    kernel_name: str | None = None,
    timeout: float = 60,
    verify: bool | str = True,
) -> str:
    body = {"name": kernel_name} if kernel_name else {}
    response = requests.post(
        server_url.rstrip("/") + "/api/kernels",
        json=body,
        headers=_auth_headers(token),
        timeout=timeout,
        verify=verify,
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"starting a kernel failed: HTTP {response.status_code} {response.text[:500]}"
        )
    return response.json()["id"]


def delete_kernel(
    server_url: str,
    token: str | None,
    kernel_id: str,
    timeout: float = 30,
    verify: bool | str = True,
) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.delete(
            f"{server_url.rstrip('/')}/api/kernels/{kernel_id}",
            headers=_auth_headers(token),
            timeout=timeout,
            verify=verify,
        )


def execute(
    server_url: str,
    token: str | None,
    code: str,
    timeout: float = 60,
    *,
    kernel_name: str | None = None,
    verify: bool | str = True,
    kernel_id: str | None = None,
) -> ExecutionResult:
    """Run ``code`` in a fresh kernel, deleted afterwards (or in the running kernel
    ``kernel_id``, which is kept); return everything it produced.

    Raises :class:`TimeoutError` when the execution does not finish within
    ``timeout`` seconds (kernel start included).
    """
    deadline = time.monotonic() + timeout
    fresh = kernel_id is None
    if fresh:
        kernel_id = start_kernel(server_url, token, kernel_name, timeout=timeout,
                                 verify=verify)
    result = ExecutionResult(kernel_id=kernel_id)
    session_id = uuid.uuid4().hex
    ws = None
    try:
        sslopt = None
        if verify is False:
            import ssl

            sslopt = {"cert_reqs": ssl.CERT_NONE}
        elif isinstance(verify, str):
            sslopt = {"ca_certs": verify}
        ws = websocket.create_connection(
            _ws_url(server_url, kernel_id, session_id),
            header=[f"{k}: {v}" for k, v in _auth_headers(token).items()],
            timeout=max(1.0, deadline - time.monotonic()),
            sslopt=sslopt,
        )
        request = _message(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            session_id,
        )
        msg_id = request["header"]["msg_id"]
        ws.send(json.dumps(request))

        got_reply = False
        got_idle = False
        while not (got_reply and got_idle):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"code did not finish within {timeout}s in kernel {kernel_id}")
            ws.settimeout(remaining)
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException as exc:
                raise TimeoutError(
                    f"code did not finish within {timeout}s in kernel {kernel_id}"
                ) from exc
            if isinstance(raw, bytes):
                continue  # binary frames only carry buffers we do not need
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            content = msg.get("content", {})
            if msg_type == "stream":
                if content.get("name") == "stderr":
                    result.stderr += content.get("text", "")
                else:
                    result.stdout += content.get("text", "")
            elif msg_type == "error":
                result.error = KernelError(
                    content.get("ename", ""),
                    content.get("evalue", ""),
                    list(content.get("traceback", [])),
                )
            elif msg_type in ("execute_result", "display_data"):
                result.results.append(content.get("data", {}))
            elif msg_type == "execute_reply":
                got_reply = True
                result.status = content.get("status", "")
                if result.status == "error" and result.error is None:
                    result.error = KernelError(
                        content.get("ename", ""),
                        content.get("evalue", ""),
                        list(content.get("traceback", [])),
                    )
                elif result.status == "aborted" and result.error is None:
                    result.error = KernelError("Aborted", "execution was aborted")
            elif msg_type == "status" and content.get("execution_state") == "idle":
                got_idle = True
        return result
    finally:
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        if fresh:
            delete_kernel(server_url, token, kernel_id, verify=verify)


def run_code(
    server_url: str, token: str | None, code: str, timeout: float = 60, **kwargs
) -> tuple[str, KernelError | None]:
    """Run ``code`` in a fresh kernel; return ``(stdout_text, error_or_None)``.

    ``error`` is a :class:`KernelError` (``str(error)`` is ``"ename: evalue"``,
    ``error.traceback`` the traceback lines).
    """
    result = execute(server_url, token, code, timeout, **kwargs)
    return result.stdout, result.error
