"""LTI 1.3 login: a launch from the university LMS logs the student in.

The LMS (the LTI *platform*) starts an OpenID Connect third-party-initiated login at
``/hub/lti13/oauth_login``; jupyterhub-ltiauthenticator checks the signed id_token it
posts back to ``/hub/lti13/oauth_callback`` (signature from the platform's JWKS, issuer,
audience, expiry, nonce). :class:`CourseLTI13Authenticator` then applies the course rules:

- the roll number comes from a launch claim (default: the SIS id,
  ``lis.person_sourcedid``), checked exactly like the OIDC login's
  (:mod:`course_hub.claims`), and is stored as ``auth_state["roll_number"]``;
- the hub user is named after the launch's ``sub`` (the LMS's stable, opaque user
  id), scoped by the issuer: ``lti-`` + a hash of both (:func:`lti_username`). Never
  after ``email`` or a name, which users can change or duplicate in many LMSs: a
  launch carrying another student's email must not log into that student's account;
- the launch maps to one of our course ids only by (issuer, deployment id, context id):
  the issuer is the configured one, the deployment one of ``deployment_ids`` (required:
  with none the hub does not start), and ``"<deployment id>/<context id>"`` a key of
  ``context_courses``. Never by the context's ``label`` or ``title``, which any LMS
  course owner can set: a student's sandbox course labelled like ours stays a
  stranger. Its roles map to ``formgrade-<course>`` (Instructor, TeachingAssistant) or
  ``nbgrader-<course>`` (Learner); the hub groups follow (``manage_groups``);
- every id_token claim is kept in ``auth_state["lti_claims"]`` (``sub``, the AGS
  endpoint claim...), with the course it was for in ``auth_state["lti_course"]``: the
  grading service returns grades to the LMS with them;
- a nonce is accepted once: a replayed launch is refused even with its cookies;
- the platform's key set is cached (:class:`CachedKeysLaunchValidator`), not fetched
  in the event loop on every launch;
- over https the launch's state cookies are ``SameSite=None; Secure``: the LMS posts
  the id_token from another site, where browsers withhold default (``Lax``) cookies.

A launch from an unmapped context, or without a course role, is refused with a 403
that says why. A launch only speaks for its own context: groups of other courses
(from earlier launches) are kept, this course's groups are replaced.
"""

import hashlib
import threading
from collections.abc import Iterable

import jwt
from cachetools import TTLCache
from ltiauthenticator.lti13 import handlers as lti13_handlers
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import InvalidAudienceError, TokenError
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler, LTI13LoginInitHandler
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from tornado import web
from traitlets import Dict, Int, Set, TraitError, Unicode, default, validate

from .claims import RollNumberClaim
from .roles import course_groups, instructor_group, student_group
from .roll_registry import OneAccountPerRoll

LTI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CONTEXT_CLAIM = LTI_CLAIM + "context"
ROLES_CLAIM = LTI_CLAIM + "roles"
LIS_CLAIM = LTI_CLAIM + "lis"
DEPLOYMENT_CLAIM = LTI_CLAIM + "deployment_id"
AGS_ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
INSTRUCTOR_ROLES = frozenset({
    f"{MEMBERSHIP}#Instructor",
    f"{MEMBERSHIP}/Instructor#TeachingAssistant",
    "Instructor",  # the simple names LTI 1.3 still allows for context roles
})
LEARNER_ROLES = frozenset({f"{MEMBERSHIP}#Learner", "Learner"})

MISSING_CONTEXT_MESSAGE = (
    "The LMS did not say which course this launch came from, so this course hub cannot "
    "let you in. Please open the hub from the course page in the LMS."
)
UNMAPPED_CONTEXT_MESSAGE = (
    "The LMS course {course!r} is not connected to this course hub. Please tell the "
    "course staff which LMS course you launched from."
)
NO_COURSE_ROLE_MESSAGE = (
    "Your role in the LMS course {course!r} gives no access to this course hub (only "
    "learners, instructors and teaching assistants). Please contact the course staff."
)
OPEN_FROM_LMS_MESSAGE = (
    "This course hub is opened from your course page in the LMS: follow the course's "
    "JupyterHub link there and you are logged in."
)
UNKNOWN_DEPLOYMENT_MESSAGE = (
    "This launch came from an LMS installation ({deployment!r}) that is not registered "
    "with this course hub. Please tell the course staff which LMS you launched from."
)
NOT_CONFIGURED_MESSAGE = (
    "This course hub's LMS login is not configured completely, so it lets nobody in. "
    "Please tell the course staff."
)
MISSING_USER_ID_MESSAGE = (
    "The LMS did not say who you are (the {claim!r} claim of the launch), so this course "
    "hub cannot let you in. Please contact the course staff."
)
#: claims a user can change or duplicate in many LMSs: never a hub account's key
EDITABLE_CLAIMS = frozenset({"email", "name", "given_name", "family_name", "middle_name",
                             "nickname", "preferred_username", "picture", "locale"})
REPLAYED_LAUNCH_MESSAGE = (
    "This LMS launch was already used. Please start again from the course page in the LMS."
)


def context_key(deployment: str, context_id: str) -> str:
    """The ``context_courses`` key of an LMS course: ``"<deployment id>/<context id>"``."""
    return f"{deployment}/{context_id}"


def course_for_context(context: dict | None, deployment: str,
                       context_courses: dict[str, str]) -> str:
    """Our course id for the launch's context claim, by its deployment and context
    ``id`` only; the ``label`` and ``title`` (editable by any LMS course owner) are shown
    in the refusal, never matched."""
    context_id = context.get("id") if isinstance(context, dict) else None
    if not isinstance(context_id, str) or not context_id:
        raise web.HTTPError(403, MISSING_CONTEXT_MESSAGE)
    course = context_courses.get(context_key(deployment, context_id))
    if course is None:
        shown = context.get("label") or context.get("title") or context_id
        raise web.HTTPError(403, UNMAPPED_CONTEXT_MESSAGE.format(course=str(shown)[:80]))
    return course


def lti_username(issuer: str, user_id: str, claim: str = "sub") -> str:
    """The hub username of the LMS user ``user_id`` (the value of ``claim``) at
    ``issuer``: ``lti-`` and 20 hex digits of a SHA-256 over the three.

    Stable for as long as the LMS keeps the id, the same whatever case or characters
    the id has (JupyterHub lower-cases names, which could merge two ``sub`` values),
    and never equal for two issuers.
    """
    digest = hashlib.sha256(f"{issuer}\n{claim}\n{user_id}".encode()).hexdigest()
    return f"lti-{digest[:20]}"


def groups_for_roles(roles, course_id: str, instructor_roles: Iterable[str] = INSTRUCTOR_ROLES,
                     learner_roles: Iterable[str] = LEARNER_ROLES) -> set[str]:
    """The course groups the launch's roles grant; a 403 when they grant none."""
    roles = set(roles) if isinstance(roles, list) else set()
    groups = set()
    if roles & set(instructor_roles):
        groups.add(instructor_group(course_id))
    if roles & set(learner_roles):
        groups.add(student_group(course_id))
    if not groups:
        raise web.HTTPError(403, NO_COURSE_ROLE_MESSAGE.format(course=course_id))
    return groups


def groups_after_launch(current: Iterable[str], course_id: str, launched: set[str]) -> list[str]:
    """The user's groups once a launch from ``course_id`` granted ``launched``.

    This course's groups are replaced, every other group is kept.
    """
    others = set(current) - course_groups([course_id])
    return sorted(others | launched)


class CachedKeysLaunchValidator(LTI13LaunchValidator):
    """The library's launch validator, but the platform's key set is fetched once per
    ``KEY_SET_LIFESPAN`` seconds (or when a token names an unknown key id) instead of on
    every launch: the fetch blocks the hub's event loop, and 300 students launching
    within a minute would otherwise fetch it 300 times."""

    KEY_SET_LIFESPAN = 300
    _clients: dict[str, jwt.PyJWKClient] = {}
    _clients_lock = threading.Lock()

    @classmethod
    def key_client(cls, jwks_endpoint: str) -> jwt.PyJWKClient:
        with cls._clients_lock:
            if jwks_endpoint not in cls._clients:
                cls._clients[jwks_endpoint] = jwt.PyJWKClient(
                    jwks_endpoint, cache_jwk_set=True, lifespan=cls.KEY_SET_LIFESPAN)
            return cls._clients[jwks_endpoint]

    def verify_and_decode_jwt(self, encoded_jwt, issuer, audience, jwks_endpoint,
                              jwks_algorithms, **kwargs):
        """The library's verification (signature always, issuer, audience, expiry with its
        leeway), with the signing key from the cached key set."""
        if not jwks_endpoint:
            raise TokenError("no key set configured for the platform (jwks_endpoint)")
        try:
            key = self.key_client(jwks_endpoint).get_signing_key_from_jwt(encoded_jwt).key
            return jwt.decode(encoded_jwt, key, algorithms=jwks_algorithms, audience=audience,
                              issuer=issuer, leeway=self.time_leeway, **kwargs)
        except jwt.InvalidAudienceError as err:
            raise InvalidAudienceError(str(err)) from err
        except jwt.PyJWTError as err:
            raise TokenError(str(err)) from err


# The library's callback handler builds its validator by this module-level name.
lti13_handlers.LTI13LaunchValidator = CachedKeysLaunchValidator


class CourseLTI13LoginInitHandler(LTI13LoginInitHandler):
    """The library's login initiation, with state cookies that survive the cross-site POST."""

    def post(self):
        """Start the launch; a visit without the LMS's arguments (someone who opened the
        hub directly) is told where to start instead of getting the protocol error."""
        if not self.get_argument("iss", None):
            raise web.HTTPError(400, OPEN_FROM_LMS_MESSAGE)
        return super().post()

    get = post

    def _set_oauth_cookie(self, key: str, value):
        cross_site = {}
        if self.authenticator.get_uri_scheme(self.request) == "https":
            cross_site = {"samesite": "None", "secure": True}
        self._set_cookie(key, value, expires_days=1, httponly=True, encrypted=True,
                         **cross_site)


class CourseLTI13CallbackHandler(LTI13CallbackHandler):
    """The library's launch callback, plus a nonce that is accepted only once."""

    def check_nonce(self, id_token):
        """Check the nonce against the cookie (library), then refuse one seen before."""
        super().check_nonce(id_token)
        if not self.authenticator.accept_nonce_once(id_token["nonce"]):
            raise web.HTTPError(400, REPLAYED_LAUNCH_MESSAGE)


class CourseLTI13Authenticator(OneAccountPerRoll, RollNumberClaim, LTI13Authenticator):
    """LTI 1.3 authenticator that requires a roll number and a course role.

    Configure it like ``LTI13Authenticator`` (``issuer``, ``client_id``,
    ``authorize_url``, ``jwks_endpoint``) plus ``deployment_ids`` and ``context_courses``, with
    ``enable_auth_state = True`` and ``JUPYTERHUB_CRYPT_KEY`` set.
    """

    login_service = "your course in the LMS"
    login_handler = CourseLTI13LoginInitHandler
    callback_handler = CourseLTI13CallbackHandler

    context_courses = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""Which course of ours an LMS course is:
        ``"<deployment id>/<context id>"`` -> course id, the deployment one of
        ``deployment_ids`` and the context id the launch's ``context.id`` (stable, set by
        the LMS). Launches from any other context are refused. Context labels are not
        accepted (since 0.3.0): any LMS course owner can give a course any label.

        Example: ``c.CourseLTI13Authenticator.context_courses = {"1:3f2a9c/4dde05e8ca19":
        "dl101"}``. Added in 0.2.0, keyed by deployment and context id since 0.3.0.
        """,
    ).tag(allow_config=True)

    deployment_ids = Set(
        Unicode(),
        config=True,
        help="""LMS deployment ids (the launch's ``deployment_id`` claim) that may log in;
        required: without any the hub does not start (since 0.3.0; before, empty
        accepted every deployment, including one a course owner installed themselves).

        Example: ``c.CourseLTI13Authenticator.deployment_ids = {"1:3f2a9c"}``.
        Added in 0.2.0.
        """,
    )

    instructor_roles = Set(
        Unicode(),
        default_value=set(INSTRUCTOR_ROLES),
        config=True,
        help="""LTI context roles that make the user an instructor (``formgrade-<course>``).

        Example: ``c.CourseLTI13Authenticator.instructor_roles.add(
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Grader")``.
        Added in 0.2.0.
        """,
    )

    learner_roles = Set(
        Unicode(),
        default_value=set(LEARNER_ROLES),
        config=True,
        help="""LTI context roles that make the user a student (``nbgrader-<course>``).

        Example: ``c.CourseLTI13Authenticator.learner_roles = {"Learner"}``.
        Added in 0.2.0.
        """,
    )

    nonce_memory_size = Int(
        100_000,
        config=True,
        help="""How many launch nonces are remembered to refuse replays; each is kept
        as long as its id_token could still be accepted (``LTI13LaunchValidator.max_age``
        plus twice its ``time_leeway``, in seconds).

        Example: ``c.CourseLTI13Authenticator.nonce_memory_size = 10_000``.
        Added in 0.2.0.
        """,
    )

    @default("username_key")
    def _username_key_default(self):
        return "sub"

    @validate("username_key")
    def _stable_username_key(self, proposal):
        key = proposal["value"]
        if key in EDITABLE_CLAIMS or not key:
            raise TraitError(
                f"username_key {key!r} cannot name hub accounts: users can change or "
                f"duplicate it in the LMS, and a launch carrying someone else's would log "
                f"into their account. Use 'sub' (the default) or a custom claim "
                f"('custom_<name>') the LMS fills with a stable id.")
        return key

    def get_username(self, token: dict) -> str:
        """``lti-<hash>`` of the issuer and the launch's ``username_key`` claim (``sub``;
        ``custom_<x>`` reads ``x`` from the LTI custom claim). No fallback to another
        claim: a launch without it is refused."""
        key = self.username_key
        data = token
        if key.startswith("custom_"):
            data, key = token.get(LTI_CLAIM + "custom") or {}, key[len("custom_"):]
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, str | int) or not str(value).strip():
            raise web.HTTPError(403, MISSING_USER_ID_MESSAGE.format(claim=self.username_key))
        return lti_username(str(token.get("iss")), str(value), self.username_key)

    def configuration_problems(self) -> list[str]:
        """What keeps this authenticator from mapping launches safely (empty: nothing)."""
        problems = []
        if not self.deployment_ids:
            problems.append("no deployment_ids (LTI13_DEPLOYMENT_IDS): name the LMS "
                            "deployment(s) of this tool; an empty list no longer means any")
        for key in sorted(self.context_courses):
            if not any(key.startswith(f"{d}/") and len(key) > len(d) + 1
                       for d in self.deployment_ids):
                problems.append(f"context_courses key {key!r} is not "
                                f"'<deployment id>/<context id>' with a deployment id from "
                                f"deployment_ids (context labels are no longer accepted)")
        return problems

    def check_allow_config(self):
        """At hub start: refuse to run with an incomplete launch mapping."""
        super().check_allow_config()
        problems = self.configuration_problems()
        if problems:
            raise ValueError("CourseLTI13Authenticator: " + "; ".join(problems))

    @default("roll_number_claim")
    def _roll_number_claim_default(self):
        return f"[{LIS_CLAIM}].person_sourcedid"

    @default("manage_groups")
    def _manage_groups_default(self):
        return True

    def accept_nonce_once(self, nonce: str) -> bool:
        """True the first time ``nonce`` is seen, False for a replay."""
        if not hasattr(self, "_seen_nonces"):
            validator = LTI13LaunchValidator(parent=self.parent)
            ttl = validator.max_age + 2 * validator.time_leeway
            self._seen_nonces = TTLCache(maxsize=self.nonce_memory_size, ttl=ttl)
        if nonce in self._seen_nonces:
            return False
        self._seen_nonces[nonce] = True
        return True

    async def authenticate(self, handler, data=None):
        """Turn a verified launch into a user with roll number, course groups and claims."""
        claims = data or {}
        problems = self.configuration_problems()
        if problems:
            self.log.error("LTI launch refused, configuration: %s", "; ".join(problems))
            raise web.HTTPError(500, NOT_CONFIGURED_MESSAGE)
        deployment = claims.get(DEPLOYMENT_CLAIM)
        if claims.get("iss") != self.issuer or deployment not in self.deployment_ids:
            raise web.HTTPError(403, UNKNOWN_DEPLOYMENT_MESSAGE.format(
                deployment=str(deployment)[:80]))
        auth_model = await super().authenticate(handler, claims)
        roll_number = self.roll_number_from_claims(claims)
        course_id = course_for_context(claims.get(CONTEXT_CLAIM), deployment,
                                       self.context_courses)
        launched = groups_for_roles(claims.get(ROLES_CLAIM), course_id,
                                    self.instructor_roles, self.learner_roles)
        name = self.normalize_username(auth_model["name"])
        user = handler.find_user(name) if handler is not None else None
        current = [g.name for g in user.groups] if user is not None else []
        self.log.info("LTI launch of %s (roll number %s) from course %s as %s", name,
                      roll_number, course_id, ", ".join(sorted(launched)))
        return {
            "name": name,
            "groups": groups_after_launch(current, course_id, launched),
            "auth_state": {"roll_number": roll_number, "lti_course": course_id,
                           "lti_claims": claims},
        }

    def check_allowed(self, username, authentication=None):
        """A launch that granted a group of a mapped course is allowed."""
        groups = set((authentication or {}).get("groups") or [])
        if groups & course_groups(set(self.context_courses.values())):
            return True
        return super().check_allowed(username, authentication)
