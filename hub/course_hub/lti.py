"""LTI 1.3 login: a launch from the university LMS logs the student in.

The LMS (the LTI *platform*) starts an OpenID Connect third-party-initiated login at
``/hub/lti13/oauth_login``; jupyterhub-ltiauthenticator checks the signed id_token it
posts back to ``/hub/lti13/oauth_callback`` (signature from the platform's JWKS, issuer,
audience, expiry, nonce). :class:`CourseLTI13Authenticator` then applies the course rules:

- the roll number comes from a launch claim (default: the SIS id,
  ``lis.person_sourcedid``), checked exactly like the OIDC login's
  (:mod:`course_hub.claims`), and is stored as ``auth_state["roll_number"]``;
- the launch's context (the LMS course) maps to one of our course ids, its roles
  to ``formgrade-<course>`` (Instructor, TeachingAssistant) or ``nbgrader-<course>``
  (Learner); the hub groups follow (``manage_groups``);
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
from traitlets import Dict, Int, Set, Unicode, default

from .claims import RollNumberClaim
from .roles import course_groups, instructor_group, student_group

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
REPLAYED_LAUNCH_MESSAGE = (
    "This LMS launch was already used. Please start again from the course page in the LMS."
)


def course_for_context(context: dict | None, context_courses: dict[str, str]) -> str:
    """Our course id for the launch's context claim (its ``id`` first, then ``label``)."""
    if not isinstance(context, dict) or not (context.get("id") or context.get("label")):
        raise web.HTTPError(403, MISSING_CONTEXT_MESSAGE)
    for key in (context.get("id"), context.get("label")):
        if key and key in context_courses:
            return context_courses[key]
    shown = context.get("label") or context.get("title") or context.get("id")
    raise web.HTTPError(403, UNMAPPED_CONTEXT_MESSAGE.format(course=str(shown)[:80]))


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


class CourseLTI13Authenticator(RollNumberClaim, LTI13Authenticator):
    """LTI 1.3 authenticator that requires a roll number and a course role.

    Configure it like ``LTI13Authenticator`` (``issuer``, ``client_id``,
    ``authorize_url``, ``jwks_endpoint``) plus ``context_courses``, with
    ``enable_auth_state = True`` and ``JUPYTERHUB_CRYPT_KEY`` set.
    """

    login_service = "your course in the LMS"
    login_handler = CourseLTI13LoginInitHandler
    callback_handler = CourseLTI13CallbackHandler

    context_courses = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""Which course of ours an LMS course is: LTI context ``id`` or ``label`` ->
        course id. Launches from any other context are refused.

        Example: ``c.CourseLTI13Authenticator.context_courses = {"DL101-2026": "dl101"}``.
        Added in 0.2.0.
        """,
    ).tag(allow_config=True)

    deployment_ids = Set(
        Unicode(),
        config=True,
        help="""LMS deployment ids (the launch's ``deployment_id`` claim) that may log in;
        empty accepts every deployment of the registered client id.

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
        auth_model = await super().authenticate(handler, data)
        claims = data or {}
        deployment = claims.get(DEPLOYMENT_CLAIM)
        if self.deployment_ids and deployment not in self.deployment_ids:
            raise web.HTTPError(403, UNKNOWN_DEPLOYMENT_MESSAGE.format(
                deployment=str(deployment)[:80]))
        roll_number = self.roll_number_from_claims(claims)
        course_id = course_for_context(claims.get(CONTEXT_CLAIM), self.context_courses)
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
