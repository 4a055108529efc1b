"""Alembic owns the schema: head matches the models, and a 0.1 database is migrated in place."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from grader_service.db import Base, database_url, make_engine
from grader_service.migrate import UPGRADE_LOCK, alembic_config, upgrade
from tests.grader_service.prepared import prepared_app

BOTH_BACKENDS = True


def _engine(data_dir, url):
    os.makedirs(data_dir, exist_ok=True)
    return make_engine(database_url({"DATABASE_URL": url, "DATA_DIR": data_dir}))


def test_head_matches_the_models(data_dir, database_url):
    engine = _engine(data_dir, database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: a second start changes nothing
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_downgrade_and_upgrade_round_trip(data_dir, database_url):
    engine = _engine(data_dir, database_url)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    engine.dispose()


LEGACY_ROWS = """INSERT INTO submissions (id, course, assignment, username, roll_number, sha256,
size, status, submitted_at, graded_at, result) VALUES
('old1', 'ml101', 'ps0', 'alice', '21CS001', 'aa', 1, 'graded', :t, :t, NULL),
('old2', 'ml101', 'ps0', 'alice', '21CS001', 'bb', 1, 'failed', :t, :t, NULL)"""


def test_a_database_from_version_0_1_is_migrated_in_place(data_dir, database_url):
    engine = _engine(data_dir, database_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # 0.1 used create_all: no alembic_version table
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text(LEGACY_ROWS), {"t": "2026-01-01 00:00:00"})
    engine.dispose()

    app = prepared_app({"DATA_DIR": data_dir, "DATABASE_URL": database_url, "RUNNER": "local",
                        "IDENTITY_PROVIDER": None})
    with app.extensions["grader_engine"].connect() as conn:
        rows = conn.execute(text("SELECT id, status, late, attempts, exported_at IS NOT NULL, "
                                 "submission_number FROM submissions ORDER BY id")).all()
    assert [(r[0], r[1], bool(r[2]), r[3], bool(r[4]), r[5]) for r in rows] == [
        ("old1", "graded", False, 0, True, 1),  # already exported by 0.1: no replay
        ("old2", "ungradable", False, 0, False, 2),  # numbered in submission order
    ]
    with app.extensions["grader_engine"].connect() as conn:  # 0007: the roll's first account
        bindings = conn.execute(text("SELECT course, roll_number, username FROM "
                                     "roll_bindings")).all()
    assert [tuple(b) for b in bindings] == [("ml101", "21CS001", "alice")]
    assert app.test_client().get("/health").json == {"status": "ok"}
    app.extensions["grader_engine"].dispose()


def test_replicas_starting_together_migrate_once(data_dir, postgres):
    """Several replicas (PostgreSQL: SQLite means one replica) run ``dl-grader migrate``
    at the same moment, each its own process: all succeed and the schema is at head.
    (The upgrade takes an advisory lock so they take turns; without it this test did not
    fail here either: it guards the outcome, the next test guards the lock.)"""
    database_url = postgres.create_database()
    go = Path(data_dir) / "go"  # every replica imported and connected: start together
    migrate = ("import os, sys, time; from grader_service.db import make_engine; "
               "from grader_service.migrate import upgrade; engine = make_engine(sys.argv[1]); "
               "engine.connect().close()\n"
               "while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n"
               "upgrade(engine)")
    os.makedirs(data_dir, exist_ok=True)
    replicas = [subprocess.Popen([sys.executable, "-c", migrate, database_url, str(go)],
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(4)
    go.touch()
    failures = [r.stderr.read()[-2000:] for r in replicas if r.wait(120) != 0]
    assert failures == []
    engine = _engine(data_dir, database_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_an_upgrade_waits_while_another_holds_the_upgrade_lock(data_dir, postgres):
    """The lock itself: while one replica holds it, another's upgrade waits (no table is
    made) and goes on once it is released."""
    database_url = postgres.create_database()
    engine = _engine(data_dir, database_url)
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK})
    waiting = threading.Thread(target=upgrade, args=(engine,))
    waiting.start()
    try:
        deadline = time.monotonic() + 30
        while not holder.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = "
                                      "'advisory' AND NOT granted")).scalar():
            assert time.monotonic() < deadline, "the second upgrade never asked for the lock"
            time.sleep(0.1)
        assert waiting.is_alive()
        assert inspect(holder).get_table_names() == []  # it waits before it migrates
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK})
        holder.close()
    waiting.join(60)
    assert not waiting.is_alive()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()
