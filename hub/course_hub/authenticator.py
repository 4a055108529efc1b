"""OAuth/OIDC login whose roll number comes from an identity-provider claim.

The roll number is authoritative from the IdP: it is read from the userinfo claims
(``auth_state["oauth_user"][roll_number_claim]``), normalised, validated, and stored
as ``auth_state["roll_number"]``. A login without a valid claim is refused with a
message the student can act on. Nothing a student types can change it.
"""

from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from traitlets import Unicode

from dlcourse.roll import is_valid_roll_number, normalize_roll_number

MISSING_CLAIM_MESSAGE = (
    "Your university login did not include a roll number, so this course hub cannot "
    "let you in. Please contact the course staff with your username so they can fix "
    "your account at the identity provider."
)
INVALID_CLAIM_MESSAGE = (
    "Your university login sent a roll number this course hub cannot use ({value!r}). "
    "Please contact the course staff with your username and roll number."
)


def lookup_claim(claims: dict, dotted_key: str):
    """Return ``claims[a][b]...`` for ``"a.b"``, or ``None`` when any part is missing."""
    value = claims
    for part in dotted_key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class CourseOAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator that requires a valid roll-number claim.

    Configure it like GenericOAuthenticator (``authorize_url``, ``token_url``,
    ``userdata_url``, ``client_id``...), with ``enable_auth_state = True`` and
    ``JUPYTERHUB_CRYPT_KEY`` set, since the roll number travels in auth_state.
    """

    roll_number_claim = Unicode(
        "roll_number",
        config=True,
        help="""Userinfo claim holding the student's roll number; dots reach nested claims.

        Example: ``c.CourseOAuthenticator.roll_number_claim = "ext.roll_no"``.
        Added in 0.1.0.
        """,
    )

    def roll_number_from_claims(self, claims: dict) -> str:
        """Return the normalised roll number or raise a 403 with a clear message."""
        raw = lookup_claim(claims or {}, self.roll_number_claim)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise web.HTTPError(403, MISSING_CLAIM_MESSAGE)
        if not isinstance(raw, str) or not is_valid_roll_number(raw):
            raise web.HTTPError(403, INVALID_CLAIM_MESSAGE.format(value=str(raw)[:40]))
        return normalize_roll_number(raw)

    async def update_auth_model(self, auth_model):
        """Refuse the login unless the claims carry a valid roll number; record it."""
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model.get("auth_state") or {}
        roll_number = self.roll_number_from_claims(auth_state.get(self.user_auth_state_key))
        auth_state["roll_number"] = roll_number
        auth_model["auth_state"] = auth_state
        self.log.info("login of %s with roll number %s", auth_model["name"], roll_number)
        return auth_model
