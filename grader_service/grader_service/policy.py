"""Submission policy: due date, late flag and resubmission limit, decided on the server clock."""

import dataclasses

from .db import as_utc


class PolicyRefusal(Exception):
    """The submission is refused by the assignment's policy (HTTP 409)."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the policy says about one accepted submission."""

    late: bool
    attempt: int  # 1 for the first submission of this student to this assignment


def decide(assignment, previous_count, now) -> Decision:
    """Accept or refuse a submission made at ``now`` after ``previous_count`` earlier ones.

    * ``max_submissions`` (None = unlimited) caps the attempts per student;
    * after ``due_at`` a submission is ``late``; if ``allow_late`` is false it is refused.
    """
    limit = assignment.max_submissions
    if limit is not None and previous_count >= limit:
        raise PolicyRefusal(f"resubmission limit reached: {assignment.name} accepts at most "
                            f"{limit} submission(s) per student")
    due = as_utc(assignment.due_at)
    late = due is not None and now > due
    if late and not assignment.allow_late:
        raise PolicyRefusal(f"{assignment.name} was due at {due.isoformat()}; late submissions "
                            "are not accepted")
    return Decision(late=late, attempt=previous_count + 1)
