"""Alembic environment: migrate the connection handed over by :func:`grader_service.migrate`.

On PostgreSQL a transaction-level advisory lock serialises replicas that start together.
"""

from alembic import context
from sqlalchemy import text

from grader_service.db import Base

MIGRATION_LOCK = 7_301_991  # arbitrary, fixed advisory-lock key


def run_migrations_online():
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK})
        context.run_migrations()


run_migrations_online()
