"""The job queue is the submissions table: leased claims, heartbeats, guarded result writes.

Every state change is one conditional ``UPDATE``, so it is atomic across threads,
processes and replicas on SQLite and PostgreSQL alike:

* :func:`claim_next` takes a queued job, or a running one whose lease ran out (its
  worker died), and leases it to ``owner`` for ``lease_seconds``;
* :func:`heartbeat` renews the lease while the job runs;
* :func:`finish` writes the outcome only while ``owner`` still holds the lease, so a
  job executed twice (at-least-once) is recorded exactly once;
* :func:`cancel` and :func:`requeue` are the user-facing transitions;
* :func:`supersede` retires a student's older queued submissions of an assignment when a
  newer one is accepted (in the intake's transaction).

**Fairness** (a deadline flood by one student must not delay the class): a student has
at most one *queued* job per assignment, because a newer submission supersedes the
queued older one (status ``superseded``, the row and its files kept, ``result`` naming
the submission that replaced it: only the newest is graded, as the student would want);
and the claim is round-robin by student: it takes the oldest queued job of the student
with the fewest jobs claimed in the last ``FAIR_WINDOW`` (``started_at``), so a student
who had a job graded a moment ago waits behind everyone who has not. One student's
flood thus costs any other student at most one job. The choice is still one ``SELECT``
of a candidate followed by one conditional ``UPDATE`` (retried if another worker won),
so it behaves the same on SQLite and PostgreSQL without row locks.
"""

import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import aliased

from .db import Status, Submission, utcnow


def _claimable(now):
    return or_(Submission.status == Status.QUEUED,
               and_(Submission.status == Status.RUNNING, Submission.lease_expires_at < now))


#: how far back a student's claimed jobs count against their turn (see the module docstring)
FAIR_WINDOW = datetime.timedelta(hours=1)


def _recent_claims(now):
    """Correlated count of the candidate's student's jobs claimed within ``FAIR_WINDOW``."""
    other = aliased(Submission)
    return (select(func.count()).select_from(other)
            .where(other.username == Submission.username,
                   other.started_at >= now - FAIR_WINDOW)
            .scalar_subquery())


def claim_next(session, owner, lease_seconds):
    """Lease the fairest claimable job to ``owner`` and return it, or None if there is none:
    the oldest job of the student with the fewest recent claims (round-robin by student)."""
    while True:
        now = utcnow()
        candidate = session.scalars(
            select(Submission.id).where(_claimable(now))
            .order_by(_recent_claims(now), Submission.submitted_at, Submission.id)
            .limit(1)).first()
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


def supersede(session, course, assignment, username, newest_number, newest_id):
    """Mark the student's queued submissions of the assignment older than ``newest_number``
    ``superseded`` (one conditional update; the caller commits). Returns the count."""
    done = session.execute(
        update(Submission)
        .where(Submission.course == course, Submission.assignment == assignment,
               Submission.username == username, Submission.status == Status.QUEUED,
               Submission.submission_number < newest_number)
        .values(status=Status.SUPERSEDED, lease_owner=None, lease_expires_at=None,
                result={"outcome": "superseded", "superseded_by": newest_id,
                        "message": f"not graded: submission #{newest_number} of the same "
                                   "assignment replaced it while it was still queued "
                                   "(only the newest queued submission is graded)"})
        .execution_options(synchronize_session=False))
    return done.rowcount


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
