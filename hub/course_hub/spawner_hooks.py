"""Spawner hooks: the authoritative identity reaches the single-user server.

``auth_state_hook`` runs before every spawn with the user's decrypted auth_state.
It sets ``ROLL_NUMBER`` (from the IdP claim, see :mod:`course_hub.authenticator`),
``COURSE_ID``, ``NBGRADER_ROLE`` and ``GRADER_SERVICE_URL``. A server whose user has
no roll number in auth_state (an admin-created account, a login from before the
claim was required) does not start.
"""

from jupyterhub.utils import maybe_future

from .roles import course_role


class MissingRollNumber(Exception):
    """Raised when a server would start without an authoritative roll number."""


def single_user_environment(auth_state, groups, course_id, grader_url) -> dict[str, str]:
    """The environment variables a student's or instructor's server starts with."""
    roll_number = (auth_state or {}).get("roll_number")
    if not roll_number:
        raise MissingRollNumber(
            "No roll number is known for this account: log out and log in again "
            "through the university login."
        )
    role = course_role(groups, course_id) or "student"
    return {
        "ROLL_NUMBER": roll_number,
        "COURSE_ID": course_id,
        "NBGRADER_ROLE": role,
        "GRADER_SERVICE_URL": grader_url,
    }


def make_auth_state_hook(course_id: str, grader_url: str, previous=None):
    """Build a ``Spawner.auth_state_hook`` for one course; chains ``previous`` if given."""

    async def auth_state_hook(spawner, auth_state):
        groups = [g.name for g in spawner.user.groups]
        spawner.environment.update(
            single_user_environment(auth_state, groups, course_id, grader_url)
        )
        if previous is not None:
            await maybe_future(previous(spawner, auth_state))

    return auth_state_hook
