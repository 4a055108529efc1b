"""OAuth/OIDC login whose roll number comes from an identity-provider claim.

The roll number is authoritative from the IdP: it is read from the userinfo claims
(``auth_state["oauth_user"]`` at ``roll_number_claim``), normalised, validated, and
stored as ``auth_state["roll_number"]``. A login without a valid claim is refused with a
message the student can act on. Nothing a student types can change it. The claim rules
live in :mod:`course_hub.claims`, shared with the LTI 1.3 login (:mod:`course_hub.lti`).
"""

from oauthenticator.generic import GenericOAuthenticator

from .claims import RollNumberClaim
from .roll_registry import OneAccountPerRoll


class CourseOAuthenticator(OneAccountPerRoll, RollNumberClaim, GenericOAuthenticator):
    """GenericOAuthenticator that requires a valid roll-number claim.

    Configure it like GenericOAuthenticator (``authorize_url``, ``token_url``,
    ``userdata_url``, ``client_id``...), with ``enable_auth_state = True`` and
    ``JUPYTERHUB_CRYPT_KEY`` set, since the roll number travels in auth_state. A roll
    number that another account holds is refused (:mod:`course_hub.roll_registry`).
    """

    async def update_auth_model(self, auth_model):
        """Refuse the login unless the claims carry a valid roll number; record it."""
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model.get("auth_state") or {}
        roll_number = self.roll_number_from_claims(auth_state.get(self.user_auth_state_key))
        auth_state["roll_number"] = roll_number
        auth_model["auth_state"] = auth_state
        self.log.info("login of %s with roll number %s", auth_model["name"], roll_number)
        return auth_model
