"""Signed result stamps: canonical JSON signed with Ed25519, verifiable offline.

A stamp is ``{"record": {...}, "signature": base64, "key_id": sha256(public key), "algorithm": "Ed25519"}``.

The record (``grading.GradingService.build_record``) holds only what the service has
checked or decided itself: identity and roll number, the submission's hash, the
``roll_config`` derived from that roll number, per-test points validated against the
assignment's source with totals recomputed (``result_check``), the checker's
``metrics``, timestamps and the grader version. A valid signature says the service
issued the record, not that it is still current: a regrade supersedes it (see
``db.SupersededStamp`` and ``dl-grader verify``).
"""

import base64
import binascii
import contextlib
import hashlib
import json
import os
import tempfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
STAMP_KEYS = {"record", "signature", "key_id", "algorithm"}


def canonical_json(obj) -> bytes:
    """Deterministic bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_or_create_key(path: str, generate=Ed25519PrivateKey.generate,
                       key_type=Ed25519PrivateKey):
    """Load a PEM private key, or create one with ``generate`` (mode 0600) if ``path``
    does not exist; a key that is not a ``key_type`` is refused.

    Creation is atomic (written whole, then linked into place), so replicas starting
    together on one volume all end up with the one key that won.
    """
    if not os.path.exists(path):
        key = generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another replica was first
                os.link(partial, path)
        finally:
            os.unlink(partial)
    with open(path, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    if not isinstance(key, key_type):
        raise ValueError(f"{path} is not a {key_type.__name__}")
    return key


def load_key(path: str, key_type=Ed25519PrivateKey):
    """Load the PEM private key that ``dl-grader migrate`` (or ``keygen``) made at ``path``."""
    if not os.path.exists(path):
        raise RuntimeError(f"no key at {path}: run `dl-grader migrate` first (it creates the "
                           "service's keys and database schema), or `dl-grader keygen`")
    return load_or_create_key(path, key_type=key_type)


def sign_record(record: dict, private_key: Ed25519PrivateKey) -> dict:
    """Return the stamp for ``record``."""
    signature = private_key.sign(canonical_json(record))
    return {
        "record": record,
        "signature": base64.b64encode(signature).decode("ascii"),
        "key_id": key_id(private_key.public_key()),
        "algorithm": ALGORITHM,
    }


def explain_stamp(stamp, public_key_pem_bytes) -> str | None:
    """None if the stamp is valid for the key, else a one-line reason."""
    if isinstance(stamp, bytes | str):
        try:
            stamp = json.loads(stamp)
        except ValueError as err:
            return f"stamp is not valid JSON: {err}"
    if not isinstance(stamp, dict) or stamp.keys() != STAMP_KEYS:
        return f"stamp must be an object with exactly the keys {sorted(STAMP_KEYS)}"
    if stamp["algorithm"] != ALGORITHM:
        return f"unsupported algorithm {stamp['algorithm']!r}"
    if isinstance(public_key_pem_bytes, str):
        public_key_pem_bytes = public_key_pem_bytes.encode()
    try:
        public_key = serialization.load_pem_public_key(public_key_pem_bytes)
    except ValueError as err:
        return f"cannot read public key: {err}"
    if not isinstance(public_key, Ed25519PublicKey):
        return "public key is not Ed25519"
    if stamp["key_id"] != key_id(public_key):
        return "stamp was signed with a different key (key_id mismatch)"
    try:
        signature = base64.b64decode(stamp["signature"], validate=True)
        public_key.verify(signature, canonical_json(stamp["record"]))
    except (binascii.Error, TypeError, ValueError):
        return "signature is not valid base64"
    except InvalidSignature:
        return "signature does not match the record (record or signature was altered)"
    return None


def verify_stamp(stamp, public_key_pem) -> bool:
    """True iff ``stamp`` (dict or JSON bytes) carries a valid signature by ``public_key_pem``."""
    return explain_stamp(stamp, public_key_pem) is None


class Signer:
    """The service's signing key (``init_app`` loads it once)."""

    def __init__(self, private_key):
        self.private_key = private_key
        self.public_key_pem = public_key_pem(private_key)
        self.key_id = key_id(private_key.public_key())

    def sign(self, record):
        return sign_record(record, self.private_key)


def signing_key_path(config) -> str:
    """``SIGNING_KEY_FILE``, or ``signing_key.pem`` in ``DATA_DIR``."""
    return config["SIGNING_KEY_FILE"] or os.path.join(config["DATA_DIR"], "signing_key.pem")


def init_app(app):
    """Load the signing key; it is made by ``dl-grader migrate`` (or ``keygen``), not here."""
    app.extensions["grader_signer"] = Signer(load_key(signing_key_path(app.config)))


def get_signer() -> Signer:
    from flask import current_app

    return current_app.extensions["grader_signer"]
