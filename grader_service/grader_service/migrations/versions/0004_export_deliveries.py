"""Per-exporter delivery records: a retry only calls the exporters that have not
delivered a result yet (an LMS must never get the same grade posted twice).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_deliveries",
        sa.Column("submission_id", sa.String(32), primary_key=True),
        sa.Column("graded_at", sa.String(32), primary_key=True),
        sa.Column("exporter", sa.String(64), primary_key=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("export_deliveries")
