"""duplicate candidates: possible duplicates to review, and every profile's blocking keys

`duplicate_candidates` holds the pairs of profiles a scan or an import found to look like
one person, with the reviewer's decision (open / not_same / merged / skipped);
`dedupe_keys` the hashed blocking keys an import looks its rows up by.

Revision ID: 0009s
Revises: 0009
Create Date: 2026-12-06 14:45:00
"""

import sqlalchemy as sa

import profile_ui.models.base
from alembic import op

revision = "0009s"
down_revision = "0009"  # '0005' in the brief; chained after issue13's 0009 once merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_a_id", sa.Integer(), nullable=False),
        sa.Column("profile_b_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.String(length=1000), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", profile_ui.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", profile_ui.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", profile_ui.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("profile_a_id < profile_b_id", name="ck_duplicate_candidates_order"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["import_job_id"], ["import_jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["profile_a_id"], ["profiles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["profile_b_id"], ["profiles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("profile_a_id", "profile_b_id", name="uq_duplicate_candidates_pair"),
    )
    op.create_index(
        "ix_duplicate_candidates_status_score", "duplicate_candidates", ["status", "score", "id"], unique=False
    )
    op.create_index("ix_duplicate_candidates_import", "duplicate_candidates", ["import_job_id", "status"], unique=False)
    op.create_index(
        op.f("ix_duplicate_candidates_profile_b_id"), "duplicate_candidates", ["profile_b_id"], unique=False
    )
    op.create_table(
        "dedupe_keys",
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "profile_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("dedupe_keys")
    op.drop_index(op.f("ix_duplicate_candidates_profile_b_id"), table_name="duplicate_candidates")
    op.drop_index("ix_duplicate_candidates_import", table_name="duplicate_candidates")
    op.drop_index("ix_duplicate_candidates_status_score", table_name="duplicate_candidates")
    op.drop_table("duplicate_candidates")
