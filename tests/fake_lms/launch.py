"""FAKE LMS, launch side: the platform half of an LTI 1.3 resource-link launch.

A stand-in for a commercial LMS (Canvas, Moodle, Blackboard) that cannot run here. It
implements the published protocol (LTI 1.3 Core §5, IMS Security Framework §5.1: OpenID
Connect third-party-initiated login with the implicit flow):

- ``GET /launch/<id>``: the page a student's click on the course link opens; an
  auto-submitting form POSTs ``iss``, ``login_hint``, ``target_link_uri``,
  ``lti_message_hint``, ``client_id`` and ``lti_deployment_id`` to the tool's login
  initiation URL.
- ``GET|POST /authorize``: checks the tool's authentication request
  (``response_type=id_token``, ``response_mode=form_post``, ``scope=openid``,
  ``prompt=none``, a registered ``client_id`` and ``redirect_uri``, ``state``, ``nonce``,
  the hints of a pending launch) and answers with an auto-submitting form that POSTs an
  RS256-signed ``id_token`` (header ``kid``) and the ``state`` to the ``redirect_uri``.
- ``GET /jwks``: the platform's public key set.

The id_token carries the LTI claims (message type, version, deployment, target link,
resource link, roles, context, ``lis.person_sourcedid``, AGS endpoint). Tests choose
users, contexts and roles per launch, and may forge one (other signing key, claims
replaced or removed) to see the tool refuse it. Requests are recorded in
``authorization_requests``; a launch's issued token is kept on the :class:`Launch`.
"""

import html
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, request

from . import LoopbackServer

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{MEMBERSHIP}#Learner"
INSTRUCTOR = f"{MEMBERSHIP}#Instructor"
TEACHING_ASSISTANT = f"{MEMBERSHIP}/Instructor#TeachingAssistant"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
REMOVE = object()  # as a claim override: leave the claim out of the id_token


def new_signing_key():
    """A fresh 2048-bit RSA private key (the LMS's, or a forger's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LmsUser:
    """A person in the LMS; ``sourcedid`` is the SIS id (``None``: the LMS sends none)."""

    sub: str
    email: str
    name: str
    sourcedid: str | None = None


@dataclass
class LmsContext:
    """An LMS course (LTI context)."""

    id: str
    label: str
    title: str


@dataclass
class ToolRegistration:
    """What an LMS admin enters when adding the tool (the hub) to the LMS."""

    client_id: str
    deployment_id: str
    login_url: str
    redirect_uris: list[str]
    target_link_uri: str


@dataclass
class Launch:
    """One click on a course link; the forgery fields are for refusal tests."""

    user: LmsUser
    context: LmsContext
    roles: list[str]
    resource_link_id: str = "dl101-assignments"
    claims: dict = field(default_factory=dict)  # replace claims (REMOVE leaves one out)
    signing_key: object = None  # default: the platform's own key
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    id_token: str | None = None  # set once the platform has issued it


def auto_submit_form(action: str, fields: dict) -> str:
    """An HTML page that POSTs ``fields`` to ``action`` at once (button without JS)."""
    inputs = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
        for k, v in fields.items()
    )
    return f"""<!DOCTYPE html><html><head><title>Fake LMS</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{html.escape(action)}">
{inputs}
<noscript><button type="submit">Continue</button></noscript>
</form></body></html>"""


class FakeLtiPlatform(LoopbackServer):
    """An LMS that launches one registered tool; ``serve()`` runs it on loopback."""

    kid = "fake-lms-key-1"

    def __init__(self, tool: ToolRegistration, token_lifetime: int = 300,
                 ags_base_url: str | None = None):
        self.tool = tool
        self.token_lifetime = token_lifetime
        self.ags_base_url = ags_base_url  # default: this platform's own URL
        self.signing_key = new_signing_key()
        self.base_url = None
        self.launches: dict[str, Launch] = {}
        self.authorization_requests: list[dict] = []
        self._lock = threading.Lock()
        self.jwks_requests = 0  # how often a tool fetched the key set
        self.app = self._make_app()

    # -- URLs the tool is configured with ---------------------------------------------

    @property
    def issuer(self):
        return self.base_url

    @property
    def authorize_url(self):
        return f"{self.base_url}/authorize"

    @property
    def jwks_url(self):
        return f"{self.base_url}/jwks"

    def launch_url(self, launch: Launch) -> str:
        """Register ``launch``; the URL a browser opens to start it."""
        with self._lock:
            self.launches[launch.id] = launch
        return f"{self.base_url}/launch/{launch.id}"


    # -- protocol ---------------------------------------------------------------------

    def jwks(self) -> dict:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key(),
                                                    as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def login_initiation(self, launch: Launch) -> dict:
        """The third-party-initiated login request (LTI 1.3 Core §4.1)."""
        return {
            "iss": self.issuer,
            "login_hint": launch.user.sub,
            "target_link_uri": self.tool.target_link_uri,
            "lti_message_hint": launch.id,
            "client_id": self.tool.client_id,
            "lti_deployment_id": self.tool.deployment_id,
        }

    def check_authentication_request(self, params) -> Launch:
        """The platform's checks of the tool's request (Security Framework §5.1.1.2)."""
        expected = {"response_type": "id_token", "response_mode": "form_post",
                    "scope": "openid", "prompt": "none", "client_id": self.tool.client_id}
        for name, value in expected.items():
            if params.get(name) != value:
                abort(400, f"invalid_request: {name} must be {value!r}")
        if params.get("redirect_uri") not in self.tool.redirect_uris:
            abort(400, "invalid_request: redirect_uri is not registered for this tool")
        for name in ("state", "nonce", "login_hint", "lti_message_hint"):
            if not params.get(name):
                abort(400, f"invalid_request: {name} is required")
        launch = self.launches.get(params["lti_message_hint"])
        if launch is None or launch.user.sub != params["login_hint"]:
            abort(400, "login_required: no such launch for this user")
        return launch

    def id_token_claims(self, launch: Launch, nonce: str) -> dict:
        """The claims of a resource-link launch (LTI 1.3 Core §5.3, §5.4; AGS §3.1)."""
        now = int(time.time())
        context, user = launch.context, launch.user
        ags_base = self.ags_base_url or self.base_url
        lineitems = f"{ags_base}/api/lti/contexts/{context.id}/line_items"
        claims = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": self.tool.client_id,
            "azp": self.tool.client_id,
            "iat": now,
            "exp": now + self.token_lifetime,
            "nonce": nonce,
            "name": user.name,
            "email": user.email,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.tool.deployment_id,
            LTI + "target_link_uri": self.tool.target_link_uri,
            LTI + "resource_link": {"id": launch.resource_link_id, "title": "Assignments"},
            LTI + "roles": list(launch.roles),
            LTI + "context": {
                "id": context.id, "label": context.label, "title": context.title,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            LTI + "lis": {"course_offering_sourcedid": context.label,
                          **({"person_sourcedid": user.sourcedid} if user.sourcedid else {})},
            LTI + "tool_platform": {"guid": "fake-lms", "name": "Fake LMS",
                                    "product_family_code": "fake-lms"},
            AGS_ENDPOINT_CLAIM: {"scope": AGS_SCOPES, "lineitems": lineitems,
                                 "lineitem": f"{lineitems}/{launch.resource_link_id}"},
        }
        for name, value in launch.claims.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict, key=None) -> str:
        return jwt.encode(claims, key or self.signing_key, algorithm="RS256",
                          headers={"kid": self.kid})

    def _make_app(self):
        app = Flask("fake_lms_launch")

        @app.get("/jwks")
        def jwks():
            self.jwks_requests += 1
            return self.jwks()

        @app.get("/launch/<launch_id>")
        def launch(launch_id):
            found = self.launches.get(launch_id) or abort(404)
            return auto_submit_form(self.tool.login_url, self.login_initiation(found))

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            params = request.values.to_dict()
            self.authorization_requests.append(params)
            found = self.check_authentication_request(params)
            found.id_token = self.sign(self.id_token_claims(found, params["nonce"]),
                                       found.signing_key)
            return auto_submit_form(params["redirect_uri"],
                                    {"id_token": found.id_token, "state": params["state"]})

        return app


def new_platform(hub_url: str, **kwargs) -> FakeLtiPlatform:
    """A platform with a JupyterHub at ``hub_url`` registered as its tool."""
    tool = ToolRegistration(
        client_id=f"hub-{secrets.token_hex(4)}",
        deployment_id="1:fake-deployment",
        login_url=f"{hub_url}/hub/lti13/oauth_login",
        redirect_uris=[f"{hub_url}/hub/lti13/oauth_callback"],
        target_link_uri=f"{hub_url}/hub/home",
    )
    return FakeLtiPlatform(tool, **kwargs)
