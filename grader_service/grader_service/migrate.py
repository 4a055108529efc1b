"""Bring a database to the current schema with Alembic (``dl-grader migrate``, and
``dl-grader serve`` before it starts; see :mod:`.prepare`).

Replicas that start together on PostgreSQL take turns: the upgrade holds a transaction
advisory lock, so the second finds the schema current instead of racing the first.

A database created by dlcourse-grader 0.1 (tables, no ``alembic_version``) is first
stamped as revision ``0001`` so its data is migrated, not recreated.
"""

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

SCRIPT_LOCATION = "grader_service:migrations"
LEGACY_REVISION = "0001"
#: The advisory lock key of schema upgrades on PostgreSQL ("dlgr").
UPGRADE_LOCK = 0x646C6772


def alembic_config(connection=None) -> Config:
    """An in-memory Alembic config pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(engine, revision="head"):
    """Migrate ``engine``'s database to ``revision`` in one transaction."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "submissions" in tables and "alembic_version" not in tables:
            command.stamp(config, LEGACY_REVISION)
        command.upgrade(config, revision)
