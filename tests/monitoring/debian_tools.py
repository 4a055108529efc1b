"""Binaries of Debian's Prometheus packages for the tests, unpacked (not installed).

``debian_tool("prometheus-alertmanager", "amtool")`` is the tool on PATH, or the one
already unpacked into ``build/tools``, or it is fetched with ``apt-get download`` and
unpacked there (``apt-get update`` first on a machine without package lists). Nothing
is installed and no service starts. A program that reads its package's data from a fixed
path (Debian's Alertmanager reads ``/usr/share/prometheus/alertmanager``) runs through
``with_package_data``: in a mount namespace of its own, where the unpacked ``/usr/share``
lies over the host's, which is left untouched. Without the package the tests skip on a developer
machine and FAIL under CI=true (``require``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import REPO, require

TOOLS = REPO / "build" / "tools"


def _unpack(package: str) -> None:
    """Fetch ``package`` and unpack it into :func:`package_root`, its programs into
    ``build/tools``; nothing happens when it cannot be fetched."""
    with tempfile.TemporaryDirectory() as tmp:
        def download():
            return subprocess.run(["apt-get", "download", package], cwd=tmp,
                                  capture_output=True, timeout=300, check=False).returncode

        if download() != 0:  # no package lists yet (a fresh machine): fetch them once
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600,
                           check=False)
            download()
        debs = list(Path(tmp).glob(f"{package}_*.deb"))
        if not debs:
            return
        root = package_root(package)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
        for found in (root / "usr" / "bin").iterdir():  # the package's other tools too
            shutil.copy2(found, TOOLS / found.name)


def package_root(package: str) -> Path:
    """Where ``package``'s files are unpacked (``build/tools/debian/<package>``)."""
    return TOOLS / "debian" / package


def debian_tool(package: str, binary: str) -> str:
    """Path of ``binary`` from Debian's ``package``."""
    found = shutil.which(binary)
    if found is None and not (TOOLS / binary).exists() and shutil.which("apt-get"):
        _unpack(package)
    if found is None and (TOOLS / binary).exists():
        found = str(TOOLS / binary)
    require(found is not None, f"{binary} is not available (Debian package {package})")
    return str(found)


def with_package_data(package: str, argv: list[str]) -> list[str]:
    """``argv`` run with ``package``'s unpacked ``/usr/share`` overlaid on the host's, in a
    private mount namespace (root only; nothing outside the namespace sees the overlay)."""
    share = package_root(package) / "usr" / "share"
    if not share.is_dir() and shutil.which("apt-get"):
        _unpack(package)
    require(share.is_dir() and shutil.which("unshare") is not None,
            f"{package} is not unpacked under {share.parent.parent}, or unshare is missing")
    overlay = f"mount -t overlay overlay -o lowerdir={share}:/usr/share /usr/share"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'{overlay} && exec "$@"', "with-package-data", *argv]
