"""Manual grades: an instructor's points and comment for a manual item (a rubric item
marked ``manual`` or an nbgrader manually graded cell) of a graded submission, with who
and when; once every manual item has one, the stamp is re-signed with them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "manual_grades",
        sa.Column("submission_id", sa.String(32), primary_key=True),
        sa.Column("notebook", sa.String(255), primary_key=True),
        sa.Column("grade_id", sa.String(255), primary_key=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("graded_by", sa.String(255), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("manual_grades")
