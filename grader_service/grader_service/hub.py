"""The grading service's side of its contract with the hub (``course_hub``), in one place.

What the hub promises, and a test holds ``course_hub`` to (``tests/hub/test_hub_contract.py``):

- groups: ``nbgrader-<course>`` holds a course's students, ``formgrade-<course>`` its
  instructors (``course_hub.roles``);
- ``auth_state["roll_number"]``: the login's roll number, normalised (the OIDC
  authenticator and the LTI one both set it);
- after an LTI launch, ``auth_state["lti_course"]`` (the course the launch was for) and
  ``auth_state["lti_claims"]`` (the launch's id_token claims, the LTI claim names below);
- the REST API at ``JUPYTERHUB_API_URL``: ``GET /user`` with the caller's token, ``GET
  /users/<name>`` (groups, ``auth_state``) with the service's own token.

:class:`HubClient` is the one client of that API here; :mod:`.auth` resolves tokens with it
and the LTI exporter reads launches with it.
"""

from __future__ import annotations

import urllib.parse

STUDENT_GROUP_PREFIX = "nbgrader-"
INSTRUCTOR_GROUP_PREFIX = "formgrade-"
ROLL_NUMBER_KEY = "roll_number"
LTI_COURSE_KEY = "lti_course"
LTI_CLAIMS_KEY = "lti_claims"
#: claims of an LTI 1.3 launch (IMS LTI 1.3 and AGS 2.0) the grading service reads
AGS_ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"


def roll_number_from_auth_state(auth_state: dict):
    """The hub's normalised roll number (``auth_state["roll_number"]``); logins recorded
    before the hub normalised it carry it only in the IdP's claims (``oauth_user``)."""
    return (auth_state.get(ROLL_NUMBER_KEY)
            or (auth_state.get("oauth_user") or {}).get(ROLL_NUMBER_KEY))


def lti_launch_from_auth_state(auth_state: dict) -> tuple[str | None, dict]:
    """``(course id, id_token claims)`` of the user's last LTI launch, or ``(None, {})``."""
    return auth_state.get(LTI_COURSE_KEY), auth_state.get(LTI_CLAIMS_KEY) or {}


class HubClient:
    """JupyterHub's REST API with the service's token (one HTTP session, shared)."""

    def __init__(self, api_url: str, service_token: str, timeout: float = 10.0, session=None):
        import requests

        self.api_url = api_url.rstrip("/")
        self.service_token = service_token
        self.timeout = timeout
        self.session = session or requests.Session()

    def get(self, path: str, token: str | None = None):
        """``GET <api>/<path>`` with ``token`` (default: the service's); the response."""
        return self.session.get(self.api_url + path, timeout=self.timeout,
                                headers={"Authorization": f"token {token or self.service_token}"})

    def user(self, name: str) -> dict:
        """The user model with groups and ``auth_state`` (raises for an HTTP error)."""
        reply = self.get("/users/" + urllib.parse.quote(name, safe=""))
        reply.raise_for_status()
        return reply.json()
