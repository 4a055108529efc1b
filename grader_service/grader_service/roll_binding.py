"""One account per roll number in a course.

The roll number comes from the login (an identity provider claim, or an LMS launch),
never from the student; but a second account can still carry a classmate's roll number
(an LMS course whose owner edits the custom claim, a misconfigured provider, a
duplicated record). The grades are the roll number's, so the first account that submits
with a roll number in a course holds it (``roll_bindings``); another account's
submission with that roll number is refused with a message naming the remedy, and
nothing moves silently. An instructor releases a binding made by mistake
(``DELETE /api/courses/<course>/roll-bindings/<roll number>``).
"""

from sqlalchemy.exc import IntegrityError

from .db import RollBinding


class RollTaken(Exception):
    """The roll number is bound to another account in this course (one-line reason)."""


def bind(session, course, roll_number, username, now):
    """Bind ``roll_number`` to ``username`` in ``course`` if it is free; raise
    :class:`RollTaken` if another account holds it."""
    for _ in range(2):  # a concurrent first submission of the same roll: look again
        binding = session.get(RollBinding, (course, roll_number))
        if binding is None:
            session.add(RollBinding(course=course, roll_number=roll_number,
                                    username=username, bound_at=now))
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()
                continue
        if binding.username != username:
            raise RollTaken(f"roll number {roll_number} already belongs to another account "
                            f"in course {course}; nothing was recorded. Ask the course staff "
                            "(your login may carry the wrong roll number)")
        return
    raise RollTaken(f"roll number {roll_number} could not be bound; please submit again")
