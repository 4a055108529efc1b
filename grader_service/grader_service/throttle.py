"""Per-student submission rate limit (``GRADER_SUBMIT_RATE``, e.g. ``6/60``).

At a deadline one student can otherwise fill the queue and the storage with hundreds
of submissions. The fair queue already grades only a student's newest queued one (see
queue.py); this limit keeps the uploads themselves within ``count`` per ``seconds`` per
student and course, counted from the submissions table (so every replica enforces the
same limit). A refused request stores nothing and gets 429 with ``Retry-After``.
"""

import datetime
import math

from sqlalchemy import select

from .db import Submission, as_utc


class RateSetting(ValueError):
    """``GRADER_SUBMIT_RATE`` is not ``count/seconds``."""


def parse_rate(text):
    """``"6/60"`` -> (6, 60.0); ``""`` or a count of 0 -> None (no limit)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        count, seconds = text.split("/")
        count, seconds = int(count), float(seconds)
    except ValueError:
        raise RateSetting(f"GRADER_SUBMIT_RATE={text!r}: expected count/seconds, e.g. 6/60") \
            from None
    if count < 0 or seconds <= 0:
        raise RateSetting(f"GRADER_SUBMIT_RATE={text!r}: count >= 0 and seconds > 0")
    return None if count == 0 else (count, seconds)


def retry_after(session, course, username, now, rate):
    """Seconds until ``username`` may submit to ``course`` again, or None if now."""
    if rate is None:
        return None
    count, seconds = rate
    since = now - datetime.timedelta(seconds=seconds)
    recent = session.scalars(
        select(Submission.submitted_at)
        .where(Submission.course == course, Submission.username == username,
               Submission.submitted_at > since)
        .order_by(Submission.submitted_at.desc()).limit(count)).all()
    if len(recent) < count:
        return None
    return max(1, math.ceil((as_utc(recent[-1]) - since).total_seconds()))
