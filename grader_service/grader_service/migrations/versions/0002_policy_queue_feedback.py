"""Due dates and resubmission policy, late flag, feedback, leased queue, export tracking.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ASSIGNMENT_COLUMNS = [
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("allow_late", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("max_submissions", sa.Integer(), nullable=True),
]

SUBMISSION_COLUMNS = [
    sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("feedback_sha256", sa.String(64), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
]


def upgrade():
    with op.batch_alter_table("assignments") as batch:
        for column in ASSIGNMENT_COLUMNS:
            batch.add_column(column)
    with op.batch_alter_table("submissions") as batch:
        for column in SUBMISSION_COLUMNS:
            batch.add_column(column)
    # 0.1 graded everything it stored: mark old results exported, and old
    # sandbox failures (student code) ungradable
    op.execute("UPDATE submissions SET exported_at = graded_at WHERE status = 'graded'")
    op.execute("UPDATE submissions SET status = 'ungradable' WHERE status = 'failed'")


def downgrade():
    op.execute("UPDATE submissions SET status = 'failed' "
               "WHERE status IN ('ungradable', 'cancelled')")
    with op.batch_alter_table("submissions") as batch:
        for column in SUBMISSION_COLUMNS:
            batch.drop_column(column.name)
    with op.batch_alter_table("assignments") as batch:
        for column in ASSIGNMENT_COLUMNS:
            batch.drop_column(column.name)
