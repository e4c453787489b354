"""dedupe_bound_segments / dedupe_stale: the profiles' bound integers, kept for imports

An import's look-alike check pairs each new person with ~30 profiles sharing a block (1.5
million pairs for 50,000 rows at 1,000,000 profiles); reading those ~600,000 partners'
names and identities and folding them took most of its 20 s, though the integer bound
(scoring.bounded_pairs) then drops ~90% of the pairs unread. `dedupe_bound_segments` keeps
every profile's bound integers (Arrow IPC files of up to 100,000 profiles: written by a full
scan, and by an import's apply for the profiles it created), so the check reads integers
for all partners and texts only for the pairs the bound keeps
(services/dedupe/bound_cache.py).

`dedupe_stale` says which cached rows no longer hold: a profile whose name, date of birth,
city or status changed, or that gained, lost or changed an e-mail, phone or customer id,
gets a row (the time of its last change), written by triggers so that no writer (edits,
merges, unmerges, undo, erasure, trash, the seed) can forget it; a full scan removes the
rows it saw, an apply those of the profiles it created. SQLite: row triggers
(services/bulk_writer.py does the identity-insert and profile-update ones set-based for
its bulk statements, as for 0010 and 0013); PostgreSQL: a statement trigger with a
transition table for identity inserts (one statement per COPY), row triggers otherwise.
The time is the database's clock at the change (clock_timestamp(): not the transaction's
start), in microseconds since the epoch (an integer: compared exactly): a scan removes a
row only if it is still the one it saw.

The data column is stored EXTERNAL on PostgreSQL: already compact binary, which pglz
would spend seconds on at each full scan for nothing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KINDS = "('email', 'phone', 'user_id')"  # the identity kinds the duplicate check compares
PROFILE_FACTS = ("full_name", "birthday", "city", "status")
SQLITE_NOW = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
PG_NOW = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
# trigger names: services/bulk_writer.py and seed/load.py turn the SQLite ones off for bulk statements
PROFILES_UPDATE = "dedupe_stale_profiles_update"
PROFILES_DELETE = "dedupe_stale_profiles_delete"
IDENTITIES_INSERT = "dedupe_stale_identities_insert"
IDENTITIES_DELETE = "dedupe_stale_identities_delete"
IDENTITIES_UPDATE = "dedupe_stale_identities_update"
PG_FUNCTION = "dedupe_stale_mark"
PG_INSERTED_FUNCTION = "dedupe_stale_mark_inserted"


def upgrade() -> None:
    op.create_table(
        "dedupe_bound_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dedupe_stale",
        sa.Column("profile_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("profile_id"),
    )
    with op.batch_alter_table("import_dedupe_checks", schema=None) as batch_op:
        # the new people's bound integers (id < 0), a Parquet file: the apply caches them
        batch_op.add_column(sa.Column("bounds", sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        _upgrade_sqlite()


def _changed(prefix: str) -> str:
    return " OR ".join(f"{prefix}NEW.{c} IS DISTINCT FROM OLD.{c}" for c in PROFILE_FACTS)


def _upgrade_sqlite() -> None:
    def mark(profile_id: str) -> str:
        return f"INSERT OR REPLACE INTO dedupe_stale (profile_id, changed_at) VALUES ({profile_id}, {SQLITE_NOW});"

    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in PROFILE_FACTS)
    op.execute(f"""CREATE TRIGGER {PROFILES_UPDATE} AFTER UPDATE OF {", ".join(PROFILE_FACTS)} ON profiles
                   WHEN {changed} BEGIN {mark("NEW.id")} END""")
    op.execute(f"CREATE TRIGGER {PROFILES_DELETE} AFTER DELETE ON profiles BEGIN {mark('OLD.id')} END")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_INSERT} AFTER INSERT ON identities
                   WHEN NEW.kind IN {KINDS} BEGIN {mark("NEW.profile_id")} END""")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_DELETE} AFTER DELETE ON identities
                   WHEN OLD.kind IN {KINDS} BEGIN {mark("OLD.profile_id")} END""")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_UPDATE} AFTER UPDATE OF profile_id, kind, value, is_encrypted
                   ON identities BEGIN {mark("OLD.profile_id")} {mark("NEW.profile_id")} END""")


def _upgrade_postgres() -> None:
    op.execute("ALTER TABLE dedupe_bound_segments ALTER COLUMN data SET STORAGE EXTERNAL")
    upsert = f"ON CONFLICT (profile_id) DO UPDATE SET changed_at = {PG_NOW}"
    op.execute(f"""CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger AS $$
                   DECLARE ids bigint[];
                   BEGIN
                     IF TG_TABLE_NAME = 'profiles' AND TG_OP = 'DELETE' THEN
                       ids := ARRAY[OLD.id];
                     ELSIF TG_TABLE_NAME = 'profiles' THEN
                       ids := ARRAY[NEW.id];
                     ELSIF TG_OP = 'DELETE' THEN
                       ids := ARRAY[OLD.profile_id];
                     ELSE
                       ids := ARRAY[OLD.profile_id, NEW.profile_id];
                     END IF;
                     INSERT INTO dedupe_stale (profile_id, changed_at)
                       SELECT d.id, {PG_NOW} FROM (SELECT DISTINCT id FROM unnest(ids) AS id) AS d {upsert};
                     RETURN NULL;
                   END; $$ LANGUAGE plpgsql""")
    op.execute(f"""CREATE OR REPLACE FUNCTION {PG_INSERTED_FUNCTION}() RETURNS trigger AS $$
                   BEGIN
                     INSERT INTO dedupe_stale (profile_id, changed_at)
                       SELECT d.profile_id, {PG_NOW}
                         FROM (SELECT DISTINCT profile_id FROM inserted WHERE kind IN {KINDS}) AS d {upsert};
                     RETURN NULL;
                   END; $$ LANGUAGE plpgsql""")
    op.execute(f"""CREATE TRIGGER {PROFILES_UPDATE} AFTER UPDATE OF {", ".join(PROFILE_FACTS)} ON profiles
                   FOR EACH ROW WHEN ({_changed("")}) EXECUTE FUNCTION {PG_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {PROFILES_DELETE} AFTER DELETE ON profiles
                   FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_INSERT} AFTER INSERT ON identities
                   REFERENCING NEW TABLE AS inserted
                   FOR EACH STATEMENT EXECUTE FUNCTION {PG_INSERTED_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_DELETE} AFTER DELETE ON identities
                   FOR EACH ROW WHEN (OLD.kind IN {KINDS}) EXECUTE FUNCTION {PG_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {IDENTITIES_UPDATE} AFTER UPDATE OF profile_id, kind, value, is_encrypted
                   ON identities FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()""")


def downgrade() -> None:
    for trigger, table in (
        (PROFILES_UPDATE, "profiles"),
        (PROFILES_DELETE, "profiles"),
        (IDENTITIES_INSERT, "identities"),
        (IDENTITIES_DELETE, "identities"),
        (IDENTITIES_UPDATE, "identities"),
    ):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_INSERTED_FUNCTION}()")
    with op.batch_alter_table("import_dedupe_checks", schema=None) as batch_op:
        batch_op.drop_column("bounds")
    op.drop_table("dedupe_stale")
    op.drop_table("dedupe_bound_segments")
