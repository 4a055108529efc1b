"""Course roles derived from JupyterHub group names.

nbgrader convention (also used by ngshare and the z2jh nbgrader guides):
``nbgrader-<course>`` holds the course's students, ``formgrade-<course>`` its instructors.
"""

STUDENT_GROUP_PREFIX = "nbgrader-"
INSTRUCTOR_GROUP_PREFIX = "formgrade-"


def student_group(course_id: str) -> str:
    """The hub group whose members are students of ``course_id``."""
    return f"{STUDENT_GROUP_PREFIX}{course_id}"


def instructor_group(course_id: str) -> str:
    """The hub group whose members are instructors of ``course_id``."""
    return f"{INSTRUCTOR_GROUP_PREFIX}{course_id}"


def course_groups(course_ids) -> set[str]:
    """Every student and instructor group of the given courses."""
    return {g for c in course_ids for g in (student_group(c), instructor_group(c))}


def course_role(groups, course_id: str) -> str | None:
    """``"instructor"``, ``"student"`` or ``None`` for a member of ``groups`` in ``course_id``."""
    groups = set(groups)
    if instructor_group(course_id) in groups:
        return "instructor"
    if student_group(course_id) in groups:
        return "student"
    return None
