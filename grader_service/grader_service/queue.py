"""The job queue is the submissions table: claim atomically, requeue after a crash."""

from sqlalchemy import func, select, update

from .db import Status, Submission, utcnow


def claim_next(session):
    """Mark the oldest queued submission running and return it, or None if the queue is empty.

    The conditional UPDATE makes the claim atomic across threads and processes: of two
    workers that picked the same row, only one sees ``rowcount == 1``.
    """
    while True:
        candidate = session.scalars(
            select(Submission.id).where(Submission.status == Status.QUEUED)
            .order_by(Submission.submitted_at).limit(1)).first()
        if candidate is None:
            return None
        claimed = session.execute(
            update(Submission)
            .where(Submission.id == candidate, Submission.status == Status.QUEUED)
            .values(status=Status.RUNNING, started_at=utcnow()))
        session.commit()
        if claimed.rowcount == 1:
            return session.get(Submission, candidate)


def requeue_running(session):
    """Put jobs left ``running`` by a previous process back in the queue; return how many."""
    result = session.execute(
        update(Submission).where(Submission.status == Status.RUNNING)
        .values(status=Status.QUEUED, started_at=None))
    session.commit()
    return result.rowcount


def queue_depth(session):
    return session.scalar(
        select(func.count()).select_from(Submission).where(Submission.status == Status.QUEUED))
