"""import_dedupe_checks: an import dry run's possible-duplicate check, kept for its apply

The dry run checks the file's new people against the base (blocking, scoring); the apply
used to do the same work again. The dry run now keeps the pairs it found and the new
people's blocking keys (Parquet blobs) with what they depend on (the audit log's last
event, a hash of the new people), and the apply reuses them when nothing changed
(services/importing/possible_duplicates.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:15:00
"""

import sqlalchemy as sa

import profile_ui.models.base
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_dedupe_checks",
        sa.Column("job_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("audit_stamp", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", profile_ui.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("people_hash", sa.String(length=64), nullable=False),
        sa.Column("pairs", sa.LargeBinary(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        sa.Column("near", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )


def downgrade() -> None:
    op.drop_table("import_dedupe_checks")
