"""The job queue is the submissions table: leased claims, heartbeats, guarded result writes.

Every state change is one conditional ``UPDATE``, so it is atomic across threads,
processes and replicas on SQLite and PostgreSQL alike:

* :func:`claim_next` takes a queued job, or a running one whose lease ran out (its
  worker died), and leases it to ``owner`` for ``lease_seconds``;
* :func:`heartbeat` renews the lease while the job runs;
* :func:`finish` writes the outcome only while ``owner`` still holds the lease, so a
  job executed twice (at-least-once) is recorded exactly once;
* :func:`cancel` and :func:`requeue` are the user-facing transitions.
"""

import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import aliased

from .db import Status, Submission, utcnow


def _claimable(now):
    return or_(Submission.status == Status.QUEUED,
               and_(Submission.status == Status.RUNNING, Submission.lease_expires_at < now))


def claim_next(session, owner, lease_seconds):
    """Lease the oldest claimable job to ``owner`` and return it, or None if there is none."""
    while True:
        now = utcnow()
        candidate = session.scalars(
            select(Submission.id).where(_claimable(now))
            .order_by(Submission.submitted_at).limit(1)).first()
        if candidate is None:
            return None
        claimed = session.execute(
            update(Submission).where(Submission.id == candidate, _claimable(now))
            .values(status=Status.RUNNING, started_at=now, lease_owner=owner,
                    lease_expires_at=now + datetime.timedelta(seconds=lease_seconds),
                    attempts=Submission.attempts + 1)
            .execution_options(synchronize_session=False))
        session.commit()
        if claimed.rowcount == 1:
            return session.get(Submission, candidate, populate_existing=True)


def _held(submission_id, owner):
    return and_(Submission.id == submission_id, Submission.lease_owner == owner,
                Submission.status == Status.RUNNING)


def heartbeat(session, submission_id, owner, lease_seconds):
    """Extend ``owner``'s lease; False if it was lost (expired and re-claimed, or cancelled)."""
    renewed = session.execute(
        update(Submission).where(_held(submission_id, owner))
        .values(lease_expires_at=utcnow() + datetime.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    session.commit()
    return renewed.rowcount == 1


def finish(session, submission_id, owner, **values):
    """Record the job's outcome (``status``, ``result``...) if ``owner`` still holds it.

    Returns True when written; False means another worker or a cancellation got there
    first and this run's result is discarded (idempotent recording).
    """
    written = session.execute(
        update(Submission).where(_held(submission_id, owner))
        .values(lease_owner=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False))
    session.commit()
    return written.rowcount == 1


def cancel(session, submission_id):
    """Cancel a queued or running job; False if it had already finished."""
    done = session.execute(
        update(Submission)
        .where(Submission.id == submission_id,
               Submission.status.in_((Status.QUEUED, Status.RUNNING)))
        .values(status=Status.CANCELLED, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False))
    session.commit()
    return done.rowcount == 1


def requeue(session, *criteria):
    """Queue every finished submission matching ``criteria`` again (regrade); return the count.

    The previous result stays visible until the new one replaces it.
    """
    done = session.execute(
        update(Submission)
        .where(*criteria, Submission.status.not_in((Status.QUEUED, Status.RUNNING)))
        .values(status=Status.QUEUED, attempts=0, lease_owner=None, lease_expires_at=None,
                exported_at=None)
        .execution_options(synchronize_session=False))
    session.commit()
    return done.rowcount


def unexported(session, limit=100):
    """Ids of graded submissions not yet handed to the exporters (e.g. after a crash)."""
    return list(session.scalars(
        select(Submission.id).where(Submission.status == Status.GRADED,
                                    Submission.exported_at.is_(None))
        .order_by(Submission.graded_at).limit(limit)))


def export_again(session, course, assignment):
    """Hand each student's latest graded result of the assignment to the exporters again
    (e.g. an LMS configured after grading began); return the count. Exporters that
    already delivered a result are skipped (``deliveries``), so nothing is posted twice."""
    later = aliased(Submission)
    newer_exists = (select(later.id).where(
        later.course == Submission.course, later.assignment == Submission.assignment,
        later.username == Submission.username, later.status == Status.GRADED,
        later.graded_at > Submission.graded_at).exists())
    done = session.execute(
        update(Submission)
        .where(Submission.course == course, Submission.assignment == assignment,
               Submission.status == Status.GRADED, ~newer_exists)
        .values(exported_at=None).execution_options(synchronize_session=False))
    session.commit()
    return done.rowcount


def mark_exported(session, submission_id, graded_at):
    """Note that the result graded at ``graded_at`` reached every exporter."""
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.graded_at == graded_at)
        .values(exported_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()


def queue_depth(session):
    """Jobs waiting for a worker."""
    return session.scalar(
        select(func.count()).select_from(Submission).where(Submission.status == Status.QUEUED))


def status_counts(session):
    """``{status: number of submissions}`` for the jobs gauge."""
    rows = session.execute(select(Submission.status, func.count()).group_by(Submission.status))
    return {status: count for status, count in rows}
