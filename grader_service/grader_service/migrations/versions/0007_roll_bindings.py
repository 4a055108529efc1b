"""Roll bindings: one account per roll number in a course. Existing submissions bind
each (course, roll number) to the account that submitted with it first.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    bindings = op.create_table(
        "roll_bindings",
        sa.Column("course", sa.String(64), primary_key=True),
        sa.Column("roll_number", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
    )
    submissions = sa.table("submissions", sa.column("course", sa.String),
                           sa.column("roll_number", sa.String), sa.column("username", sa.String),
                           sa.column("submitted_at", sa.DateTime(timezone=True)))
    first = {}
    for course, roll, username, at in op.get_bind().execute(
            sa.select(submissions.c.course, submissions.c.roll_number,
                      submissions.c.username, submissions.c.submitted_at)
            .where(submissions.c.roll_number.is_not(None))
            .order_by(submissions.c.submitted_at)):
        first.setdefault((course, roll), {"course": course, "roll_number": roll,
                                          "username": username, "bound_at": at})
    if first:
        op.bulk_insert(bindings, list(first.values()))


def downgrade():
    op.drop_table("roll_bindings")
