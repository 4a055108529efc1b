"""Helpers for the end-to-end tests of the course platform.

- :mod:`scripts.demo_idp` (re-exported): start/stop the demo OIDC identity provider.
- :mod:`.oidc_login`: browserless login to JupyterHub through the demo IdP.
- :mod:`.kernel`: run code in a kernel through a Jupyter Server REST/websocket API.
- :mod:`.browser`: Debian's Chromium for Playwright and the hub login done with clicks.

Import it as ``tests.e2e.support`` (``from tests.e2e.support import login``):
``tests/conftest.py`` puts the repository root on ``sys.path`` and ``tests`` /
``tests.e2e`` resolve as namespace packages (no ``__init__.py`` needed there).
Inside, the modules use relative imports only.
"""

from scripts.demo_idp import (
    DEMO_PASSWORD,
    DemoIdP,
    ensure_node_modules,
    free_port,
    start_demo_idp,
)

from .browser import CHROMIUM, CHROMIUM_ARGS, browser_login
from .kernel import KernelError, run_code
from .oidc_login import LoginError, login, xsrf_headers

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DEMO_PASSWORD",
    "DemoIdP",
    "KernelError",
    "LoginError",
    "browser_login",
    "ensure_node_modules",
    "free_port",
    "login",
    "run_code",
    "start_demo_idp",
    "xsrf_headers",
]
