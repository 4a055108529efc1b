"""Accepting submissions under a deadline burst: group commit.

A request thread stores the upload's blob itself (files are fsynced in parallel), then
hands the row to this process's single committer thread and waits. The committer takes
everything that arrived since its last commit, applies the assignment's policy to each
(resubmission limit, due date) and inserts the whole batch in one transaction: one
database sync for many submissions. Each waiting request is then woken with its own
outcome, so nothing is answered 202 before its row is committed.

A student's newer submission supersedes their older *queued* one of the same assignment
in the same transaction (``queue.supersede``; see queue.py for the fairness rules).

The resubmission limit is enforced by the database too: ``submission_number`` is unique
per (course, assignment, student), so two replicas accepting the same student's
simultaneous submissions cannot both take the last allowed attempt; the loser of that
race is re-decided on its own. Rows are inserted in key order, so two replicas' batches
take the unique index's locks in the same order; should the database still report a
deadlock or a serialization failure, the batch is redone one submission at a time too.
"""

import dataclasses
import datetime
import logging
import queue
import threading
import time

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError

from .db import Assignment, Status, Submission
from .policy import Decision, PolicyRefusal, decide
from .queue import supersede

log = logging.getLogger(__name__)

#: SQLSTATEs of a transaction the database aborted only because of a concurrent one
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def is_race(err: Exception) -> bool:
    """True if ``err`` means another transaction won a race (redo, do not fail)."""
    if isinstance(err, IntegrityError):
        return True
    sqlstate = getattr(getattr(err, "orig", None), "sqlstate", None)
    return isinstance(err, DBAPIError) and sqlstate in RETRYABLE_SQLSTATES


@dataclasses.dataclass(frozen=True)
class Policy:
    """The assignment fields :func:`policy.decide` reads, captured when the request arrived."""

    name: str
    due_at: datetime.datetime | None
    allow_late: bool
    max_submissions: int | None

    @classmethod
    def of(cls, assignment):
        return cls(assignment.name, assignment.due_at, assignment.allow_late,
                   assignment.max_submissions)


@dataclasses.dataclass
class Pending:
    """One submission waiting for the committer (``values`` are the row's columns)."""

    values: dict
    policy: Policy
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    decision: Decision | None = None
    error: Exception | None = None

    @property
    def student_key(self):
        v = self.values
        return v["course"], v["assignment"], v["username"]


class IntakeUnavailable(Exception):
    """The committer did not answer in time (the request gets 503; nothing was accepted)."""


class Intake:
    """This process's committer: :meth:`accept` blocks until the row is committed or refused.

    :meth:`policy` serves the submit path's one read, the assignment's policy, from a
    cache of ``policy_seconds`` (a release in this process clears it at once; another
    replica's change is seen within that time).
    """

    def __init__(self, sessions, policy_seconds=2.0, max_batch=128, retries=3):
        self.sessions = sessions
        self.policy_seconds = policy_seconds
        self.max_batch = max_batch
        self.retries = retries
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread = None
        self._policies = {}

    def policy(self, course, name) -> Policy | None:
        """The released assignment's :class:`Policy`, or None if it is not released."""
        key = (course, name)
        hit = self._policies.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self.sessions() as session:
            row = session.get(Assignment, key)
            found = None if row is None else Policy.of(row)
        if found is not None:  # never cache an absence: a release must be seen at once
            self._policies[key] = (time.monotonic() + self.policy_seconds, found)
        return found

    def forget_policy(self, course, name):
        """Drop the cached policy (after a release, an update or a removal)."""
        self._policies.pop((course, name), None)

    def accept(self, values, policy: Policy, timeout=60.0) -> Decision:
        """Insert ``values`` (without ``submission_number``/``late``) if ``policy`` allows.

        Returns the :class:`Decision`; raises :class:`PolicyRefusal` if refused.
        """
        item = Pending(dict(values), policy)
        self._ensure_started()
        self._queue.put(item)
        if not item.done.wait(timeout):
            raise IntakeUnavailable("the submission store did not answer in time; "
                                    "nothing was recorded, please submit again")
        if item.error is not None:
            raise item.error
        return item.decision

    def _ensure_started(self):
        # started lazily, so a forking server starts one committer per worker process
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="submission-intake",
                                                daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch):
        try:
            self._insert(batch)
        except Exception as err:
            if is_race(err):
                # another process took a submission_number in this batch: redo one by one
                for item in batch:
                    self._commit_alone(item)
                return
            log.exception("could not store %d submission(s)", len(batch))
            for item in batch:
                item.error = err
        for item in batch:
            item.done.set()

    def _commit_alone(self, item):
        for _ in range(self.retries):
            item.decision = item.error = None  # decided afresh against the latest rows
            try:
                self._insert([item])
                break
            except Exception as err:
                if is_race(err):
                    continue
                log.exception("could not store a submission")
                item.error = err
                break
        else:
            item.error = IntakeUnavailable("too many simultaneous submissions from this "
                                           "student; nothing was recorded, please submit again")
        item.done.set()

    def _insert(self, batch):
        """Decide and insert ``batch`` in one transaction (raises IntegrityError on a race)."""
        with self.sessions() as session:
            latest = self._latest_numbers(session, batch)
            rows = []
            newest = {}  # student key -> (number, id) of their newest row in this batch
            for item in batch:
                previous = latest.get(item.student_key, 0)
                try:
                    decision = decide(item.policy, previous, item.values["submitted_at"])
                except PolicyRefusal as err:
                    item.error = err
                    continue
                latest[item.student_key] = decision.attempt
                item.decision = decision
                rows.append(dict(item.values, late=decision.late, status=Status.QUEUED,
                                 attempts=0, submission_number=decision.attempt))
                if decision.attempt > 1:
                    newest[item.student_key] = (decision.attempt, item.values["id"])
            if rows:
                rows.sort(key=lambda row: (row["course"], row["assignment"], row["username"],
                                           row["submission_number"]))
                session.execute(insert(Submission.__table__), rows)
            for (course, assignment, username), (number, sid) in newest.items():
                supersede(session, course, assignment, username, number, sid)
            session.commit()

    @staticmethod
    def _latest_numbers(session, batch):
        """``{(course, assignment, username): highest submission_number}`` for the batch."""
        keys = {item.student_key for item in batch}
        columns = (Submission.course, Submission.assignment, Submission.username)
        query = (select(*columns, func.max(Submission.submission_number))
                 .where(tuple_(*columns).in_(keys)).group_by(*columns))
        return {(c, a, u): n for c, a, u, n in session.execute(query)}


def init_app(app):
    from .db import session_factory

    app.extensions["grader_intake"] = Intake(session_factory(app),
                                             policy_seconds=app.config["POLICY_CACHE_SECONDS"])


def get_intake(app=None) -> Intake:
    from flask import current_app

    return (app or current_app).extensions["grader_intake"]
