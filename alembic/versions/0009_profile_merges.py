"""profile merges: who merged which profile into which, with snapshots to undo it

Every merge (by hand, from the duplicates review, or by a sync rule during an import)
keeps a record with both profiles' data before the merge and the survivor's just after,
so it can be undone. No foreign keys: the record outlives a purged profile.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04 14:50:00
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op
from profile_ui.models.base import UTCDateTime

revision = "0009"
down_revision = "0006"  # re-chained after issue17's 0006 (both came from 0005)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column("merged_by", sa.Integer(), nullable=True),
        sa.Column("merged_by_email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("merged_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("survivor_before", sa.JSON(), nullable=False),
        sa.Column("merged_before", sa.JSON(), nullable=False),
        sa.Column("survivor_after", sa.JSON(), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("undone_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.Column("undone_by_email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("undo_report", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("profile_merges", schema=None) as batch_op:
        batch_op.create_index("ix_profile_merges_survivor", ["survivor_id", "merged_at"], unique=False)
        batch_op.create_index("ix_profile_merges_merged", ["merged_id"], unique=False)


def downgrade() -> None:
    op.drop_table("profile_merges")
