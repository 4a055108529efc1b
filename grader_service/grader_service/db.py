"""Database models and the per-app SQLAlchemy engine (``get_db()`` + ``init_app(app)``).

SQLite in ``GRADER_DATA_DIR`` is the embedded default; PostgreSQL (``postgresql+psycopg://``)
in production through ``GRADER_DATABASE_URL``. The schema is owned by Alembic
(``migrations/``); change a model only together with a new revision.
"""

import datetime
import enum
import os

from flask import current_app, g
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow():
    """Timezone-aware current UTC time (the only clock the service trusts)."""
    return datetime.datetime.now(datetime.UTC)


class Status(enum.StrEnum):
    """Life cycle of a submission.

    ``queued -> running -> graded | ungradable | failed``; ``queued``/``running`` may become
    ``cancelled``; a queued one becomes ``superseded`` when the same student submits the
    same assignment again before it was claimed (only the newest is graded; the row, its
    files and ``result.superseded_by`` stay). A regrade puts any finished submission back
    to ``queued``. ``failed``
    means the grading infrastructure failed (retries exhausted), ``ungradable`` that the
    student's code could not be graded (timeout, out of memory, crash, garbage output).
    """

    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    UNGRADABLE = "ungradable"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


#: states a job never leaves on its own
FINISHED = (Status.GRADED, Status.UNGRADABLE, Status.FAILED, Status.CANCELLED,
            Status.SUPERSEDED)


class Base(DeclarativeBase):
    pass


class Assignment(Base):
    """A released assignment: the student-facing release blob and the hidden source blob."""

    __tablename__ = "assignments"

    course: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    release_sha256: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str] = mapped_column(String(64))
    notebooks: Mapped[list] = mapped_column(JSON, default=list)
    released_by: Mapped[str] = mapped_column(String(255))
    released_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    allow_late: Mapped[bool] = mapped_column(Boolean, default=True)
    max_submissions: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def to_json(self):
        return {
            "course": self.course,
            "assignment": self.name,
            "notebooks": self.notebooks,
            "released_at": isoformat(self.released_at),
            "release_sha256": self.release_sha256,
            "due_at": isoformat(self.due_at),
            "allow_late": self.allow_late,
            "max_submissions": self.max_submissions,
        }


class Submission(Base):
    """One uploaded attempt and, once graded, its result and signed stamp."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("course", "assignment", "username", "submission_number",
                                       name="uq_submissions_student_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    course: Mapped[str] = mapped_column(String(64), index=True)
    assignment: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(255), index=True)
    roll_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True, default=Status.QUEUED)
    submitted_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    graded_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    stamp: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # 1 for a student's first submission to the assignment (unique: see intake.py)
    submission_number: Mapped[int] = mapped_column(Integer)
    feedback_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # queue bookkeeping (see queue.py)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                       nullable=True)
    exported_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                  nullable=True)

    def to_json(self, include_stamp=True):
        data = {
            "submission_id": self.id,
            "course": self.course,
            "assignment": self.assignment,
            "username": self.username,
            "roll_number": self.roll_number,
            "sha256": self.sha256,
            "size": self.size,
            "status": self.status,
            "timestamp": isoformat(self.submitted_at),
            "graded_at": isoformat(self.graded_at),
            "late": self.late,
            "submission_number": self.submission_number,
            "attempts": self.attempts,
            "has_feedback": self.feedback_sha256 is not None,
            "result": self.result,
        }
        if include_stamp:
            data["stamp"] = self.stamp
        return data


class CachedIdentity(Base):
    """A hub token resolved recently, shared by the service's processes and replicas.

    Keyed by the token's SHA-256 (the token itself is never stored); rows expire after
    ``GRADER_IDENTITY_CACHE_SECONDS``.
    """

    __tablename__ = "identity_cache"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    groups: Mapped[list] = mapped_column(JSON, default=list)
    roll_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), index=True)


class ExportDelivery(Base):
    """A graded result (``submission_id`` as graded at ``graded_at``) that ``exporter``
    delivered; a retry after a failure or a crash skips the exporters listed here."""

    __tablename__ = "export_deliveries"

    submission_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    graded_at: Mapped[str] = mapped_column(String(32), primary_key=True)  # the record's text
    exporter: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivered_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))


class SupersededStamp(Base):
    """A stamp that a later grading of the same submission replaced (a regrade).

    The signature stays valid forever, so ``dl-grader verify`` asks the service which
    stamp is current: one listed here is reported as superseded, with when and by what
    (the new status, and its score if graded). Written in the transaction that records
    the new outcome (``grading.GradingService._finish``).
    """

    __tablename__ = "superseded_stamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(String(32), index=True)
    graded_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                nullable=True)
    stamp: Mapped[dict] = mapped_column(JSON)
    superseded_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    superseded_by_status: Mapped[str] = mapped_column(String(16))
    superseded_by_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    superseded_by_max_score: Mapped[float | None] = mapped_column(Float, nullable=True)

    def to_json(self):
        return {
            "graded_at": isoformat(self.graded_at),
            "superseded_at": isoformat(self.superseded_at),
            "superseded_by": {"status": self.superseded_by_status,
                              "graded_at": isoformat(self.superseded_at),
                              "score": self.superseded_by_score,
                              "max_score": self.superseded_by_max_score},
            "stamp": self.stamp,
        }


class RollBinding(Base):
    """The account a roll number belongs to in a course: the first one that submitted with
    it. A submission by another account carrying the same roll number is refused (see
    roll_binding.py); an instructor can release a binding made by mistake."""

    __tablename__ = "roll_bindings"

    course: Mapped[str] = mapped_column(String(64), primary_key=True)
    roll_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    bound_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))

    def to_json(self):
        return {"course": self.course, "roll_number": self.roll_number,
                "username": self.username, "bound_at": isoformat(self.bound_at)}


class ManualGrade(Base):
    """An instructor's points and comment for one manual item of a graded submission
    (``notebook`` and ``grade_id`` as in the record's ``tests``), with who and when.

    One row per item, replaced by a later grade of the same item. Once every manual
    item of the record has a row, :mod:`.manual` re-signs the record with them (the
    earlier stamp goes to ``superseded_stamps``); a regrade applies them again.
    """

    __tablename__ = "manual_grades"

    submission_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    notebook: Mapped[str] = mapped_column(String(255), primary_key=True)
    grade_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    points: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    graded_by: Mapped[str] = mapped_column(String(255))
    graded_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))

    def to_json(self):
        return {"points": self.points, "comment": self.comment, "graded_by": self.graded_by,
                "graded_at": isoformat(self.graded_at)}


def as_utc(value):
    """``value`` as an aware UTC datetime (SQLite drops tzinfo, so re-attach it); None stays."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def isoformat(value):
    """ISO 8601 in UTC with a trailing Z."""
    value = as_utc(value)
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text):
    """An ISO 8601 string (``Z`` or offset; naive means UTC) as an aware UTC datetime."""
    return as_utc(datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def make_engine(url):
    """Engine with SQLite tuned for several threads (WAL, busy timeout, full fsync)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def database_url(config):
    """``DATABASE_URL``, or the embedded SQLite file in ``DATA_DIR``."""
    return config["DATABASE_URL"] or "sqlite:///" + os.path.join(config["DATA_DIR"],
                                                                "grader.sqlite")


def init_app(app):
    """Create the engine (no connection yet) and register teardown; the schema is
    migrated once by ``dl-grader migrate`` (:mod:`.prepare`), not here."""
    engine = make_engine(database_url(app.config))
    app.extensions["grader_engine"] = engine
    app.extensions["grader_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_db)


def session_factory(app=None):
    """The app's sessionmaker (worker threads open their own sessions with it)."""
    return (app or current_app).extensions["grader_sessionmaker"]


def get_db():
    """Session bound to the current app context."""
    if "grader_db" not in g:
        g.grader_db = session_factory()()
    return g.grader_db


def close_db(_exc=None):
    db = g.pop("grader_db", None)
    if db is not None:
        db.close()
