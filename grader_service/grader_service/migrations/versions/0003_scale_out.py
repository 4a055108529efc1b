"""Several processes and replicas: number each student's submissions per assignment,
unique, so the resubmission limit holds when replicas accept at the same instant; and
share resolved hub tokens between processes (``identity_cache``).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# earlier rows: the position of each submission in its student's history (ties by id)
BACKFILL = """
UPDATE submissions SET submission_number = (
    SELECT COUNT(*) FROM submissions AS earlier
    WHERE earlier.course = submissions.course
      AND earlier.assignment = submissions.assignment
      AND earlier.username = submissions.username
      AND (earlier.submitted_at < submissions.submitted_at
           OR (earlier.submitted_at = submissions.submitted_at AND earlier.id <= submissions.id)))
"""


def upgrade():
    op.create_table(
        "identity_cache",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("roll_number", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identity_cache_expires_at", "identity_cache", ["expires_at"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("submission_number", sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("submission_number", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_submissions_student_number",
                                       ["course", "assignment", "username", "submission_number"])


def downgrade():
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("uq_submissions_student_number", type_="unique")
        batch.drop_column("submission_number")
    op.drop_index("ix_identity_cache_expires_at", "identity_cache")
    op.drop_table("identity_cache")
