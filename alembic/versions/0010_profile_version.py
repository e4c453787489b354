"""profile version: every change of a profile row counts it up, so an edit can tell it is stale

Two marketers editing one profile, or an import updating it while one of them edits,
must not overwrite each other silently. Each profile carries a version that a trigger
raises on every UPDATE of its row, whoever writes it (the edit service, an import's
set-based UPDATE, a merge, a delete or restore), so no writer has to remember it. The
User 360 page keeps the version it showed; saving an edit locks the row and refuses when
the version moved (services/profile_edit.py: ProfileChanged).

export_jobs.claim: the worker writing an export and its lease, so an export whose worker
died is written again by another worker instead of failing an hour later.

Revision ID: 0010
Revises: 0009s
Create Date: 2026-12-06 15:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0010"
down_revision = "0009s"
branch_labels = None
depends_on = None

TRIGGER = "profiles_count_version"


def upgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.JSON(), nullable=True))
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$
                       BEGIN NEW.version := OLD.version + 1; RETURN NEW; END; $$ LANGUAGE plpgsql""")
        op.execute(f"""CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON profiles
                       FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()""")
    else:
        # SQLite cannot change NEW in a BEFORE trigger; the guard keeps the trigger's own
        # UPDATE (and a writer that raised the version itself) from counting twice
        op.execute(f"""CREATE TRIGGER {TRIGGER} AFTER UPDATE ON profiles
                       FOR EACH ROW WHEN NEW.version = OLD.version
                       BEGIN UPDATE profiles SET version = OLD.version + 1 WHERE id = OLD.id; END""")


def downgrade() -> None:
    op.execute(
        f"DROP TRIGGER IF EXISTS {TRIGGER}" + (" ON profiles" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("claim")
