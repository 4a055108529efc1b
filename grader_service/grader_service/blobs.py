"""Content-addressed blob store: ``blobs/<sha[:2]>/<sha>``, written durably (fsync + rename)."""

import hashlib
import os
import re
import tempfile

from flask import current_app

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Immutable byte blobs named by their SHA-256."""

    def __init__(self, root):
        self.root = root  # made with the first blob's folder

    def path(self, sha256):
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return os.path.join(self.root, sha256[:2], sha256)

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; durable on disk when this returns."""
        sha = hashlib.sha256(data).hexdigest()
        dest = self.path(sha)
        if os.path.exists(dest):
            return sha
        folder = os.path.dirname(dest)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)
        return sha

    def get(self, sha256) -> bytes:
        with open(self.path(sha256), "rb") as fh:
            return fh.read()

    def exists(self, sha256) -> bool:
        return os.path.exists(self.path(sha256))


def _fsync_dir(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def init_app(app):
    app.extensions["grader_blobs"] = BlobStore(os.path.join(app.config["DATA_DIR"], "blobs"))


def get_blobs() -> BlobStore:
    return current_app.extensions["grader_blobs"]
