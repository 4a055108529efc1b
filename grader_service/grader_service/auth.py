"""Who is calling: resolve a JupyterHub API token to a user, roll number and course roles.

The seam is :class:`IdentityProvider`; :class:`HubIdentityProvider` asks the hub. Tests
put another provider in the app config under ``IDENTITY_PROVIDER`` (their fixed table
lives in ``tests/grader_service/grader_testing.py``).
"""

import hashlib
import threading
import time

from flask import current_app, request

from .db import session_factory
from .hub import HubClient, roll_number_from_auth_state
from .identity import Identity, Role  # noqa: F401  (re-exported for callers)
from .identity_cache import SharedIdentityCache


class AuthError(Exception):
    """The caller could not be identified (maps to HTTP 401)."""


class IdentityProvider:
    """Contract: ``identify(token) -> Identity`` or raise :class:`AuthError` for a bad token.

    Subclasses implement ``identify``; it may be called from several threads.
    """

    def identify(self, token: str) -> Identity:
        raise NotImplementedError("Override in subclass: identify(token) -> Identity")


class HubIdentityProvider(IdentityProvider):
    """Ask JupyterHub: ``GET /user`` with the caller's token, then ``GET /users/{name}``
    with the service token for groups and ``auth_state["oauth_user"]["roll_number"]``.

    Results are cached for ``cache_seconds`` keyed by the SHA-256 of the token: in this
    process, and in ``shared`` (a :class:`~grader_service.identity_cache.SharedIdentityCache`
    the other processes and replicas read) if given.
    """

    MAX_LOCAL_ENTRIES = 10_000

    def __init__(self, api_url, service_token, cache_seconds=30.0, timeout=10.0, session=None,
                 shared=None):
        self.hub = HubClient(api_url, service_token, timeout=timeout, session=session)
        self.cache_seconds = cache_seconds
        self.shared = shared
        self._cache = {}
        self._lock = threading.Lock()

    def identify(self, token):
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        found = self.shared.get(key) if self.shared is not None else None
        if found is not None:
            identity, seconds_left = found
        else:
            identity, seconds_left = self._resolve(token), self.cache_seconds
            if self.shared is not None:
                self.shared.put(key, identity, self.cache_seconds)
        with self._lock:
            if len(self._cache) >= self.MAX_LOCAL_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + seconds_left, identity)
        return identity

    def _resolve(self, token):
        who = self.hub.get("/user", token)
        if who.status_code in (401, 403):
            raise AuthError("token rejected by JupyterHub")
        who.raise_for_status()
        model = who.json()
        if model.get("kind", "user") != "user":
            raise AuthError("only user tokens may call the grading service")
        name = model["name"]
        user = self.hub.user(name)
        roll = roll_number_from_auth_state(user.get("auth_state") or {})
        return Identity(username=name, groups=frozenset(user.get("groups") or ()),
                        roll_number=None if roll is None else str(roll))


def token_from_request():
    """The token from ``Authorization: token X`` or ``Bearer X``; raise AuthError if absent."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        raise AuthError("missing Authorization header ('token <JupyterHub API token>')")
    return value.strip()


def init_app(app):
    if "IDENTITY_PROVIDER" in app.config:  # a test's own provider (not a setting)
        provider = app.config["IDENTITY_PROVIDER"]
    else:
        provider = HubIdentityProvider(app.config["HUB_API_URL"], app.config["HUB_API_TOKEN"],
                                       cache_seconds=app.config["IDENTITY_CACHE_SECONDS"],
                                       shared=SharedIdentityCache(session_factory(app)))
    app.extensions["grader_identity"] = provider


def get_identity_provider() -> IdentityProvider:
    return current_app.extensions["grader_identity"]


def current_identity() -> Identity:
    """Identify the caller of the current request (raises AuthError)."""
    return get_identity_provider().identify(token_from_request())
