"""Bring a database to the current schema with Alembic (run by ``create_app`` at start).

A database created by dlcourse-grader 0.1 (tables, no ``alembic_version``) is first
stamped as revision ``0001`` so its data is migrated, not recreated.
"""

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

SCRIPT_LOCATION = "grader_service:migrations"
LEGACY_REVISION = "0001"


def alembic_config(connection=None) -> Config:
    """An in-memory Alembic config pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(engine, revision="head"):
    """Migrate ``engine``'s database to ``revision`` in one transaction."""
    with engine.begin() as connection:
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "submissions" in tables and "alembic_version" not in tables:
            command.stamp(config, LEGACY_REVISION)
        command.upgrade(config, revision)
