"""Stamps replaced by a regrade are kept (``superseded_stamps``), so an old stamp still
verifies and is reported as superseded, with when and by which grade.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "superseded_stamps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stamp", sa.JSON(), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by_status", sa.String(16), nullable=False),
        sa.Column("superseded_by_score", sa.Float(), nullable=True),
        sa.Column("superseded_by_max_score", sa.Float(), nullable=True),
    )
    op.create_index("ix_superseded_stamps_submission_id", "superseded_stamps",
                    ["submission_id"])


def downgrade():
    op.drop_index("ix_superseded_stamps_submission_id", "superseded_stamps")
    op.drop_table("superseded_stamps")
