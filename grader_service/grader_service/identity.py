"""Who a caller is, as data: the course roles a hub user holds and their roll number.

Domain types only (no Flask, no HTTP): :mod:`.auth` resolves a token to an
:class:`Identity`, :mod:`.identity_cache` stores them, the API checks roles with them.
"""

import dataclasses
import enum

from .hub import INSTRUCTOR_GROUP_PREFIX, STUDENT_GROUP_PREFIX


class Role(enum.StrEnum):
    INSTRUCTOR = "instructor"
    STUDENT = "student"


@dataclasses.dataclass(frozen=True)
class Identity:
    """An authenticated caller. ``roll_number`` comes from the IdP (auth_state), never the client."""

    username: str
    groups: frozenset = frozenset()
    roll_number: str | None = None

    def role_in(self, course):
        """Instructor if in ``formgrade-<course>``, student if in ``nbgrader-<course>``, else None."""
        if INSTRUCTOR_GROUP_PREFIX + course in self.groups:
            return Role.INSTRUCTOR
        if STUDENT_GROUP_PREFIX + course in self.groups:
            return Role.STUDENT
        return None

    def courses(self):
        """``{course: role}`` for every course group the caller is in."""
        found = {}
        for group in self.groups:
            for prefix in (STUDENT_GROUP_PREFIX, INSTRUCTOR_GROUP_PREFIX):
                if group.startswith(prefix):
                    course = group[len(prefix):]
                    found[course] = self.role_in(course)
        return found
