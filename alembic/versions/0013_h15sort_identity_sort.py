"""profiles.email_sort / phone_sort: the primary e-mail and phone the list sorts by

The list sorts by the primary e-mail and the primary phone (the first identity of that
kind by id, the one a cell shows first). Identities are written by many paths (imports,
edits, merges and unmerges, undo, the seed), so no writer keeps the key: triggers on
`identities` (after INSERT, DELETE and UPDATE of profile_id, kind, value, is_encrypted)
recompute it for the profile(s) concerned. An identity stored encrypted holds a keyed hash,
which must not be sorted by: it gives no key (services/identity_sort.py shows such a column
as not sortable). Each key has an index on (status, key, id) that a sorted page walks.

The version trigger of 0010 counts every UPDATE of a profile; a sort key written by these
triggers is not a change of the profile and is not counted (only these triggers write the
keys, and only when they change).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:05:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 5_000
KEYS = {"email": "email_sort", "phone": "phone_sort"}
VERSION_TRIGGER = "profiles_count_version"  # 0010
PG_FUNCTION = "identities_sort_keys"


def _primary(kind: str, profile_id: str) -> str:
    # the first plain identity of the kind (a seek in ux_identities_profile_kind)
    return (
        f"(SELECT i.value FROM identities AS i WHERE i.profile_id = {profile_id} AND i.kind = '{kind}'"
        " AND NOT i.is_encrypted ORDER BY i.id LIMIT 1)"
    )


def _refresh_sqlite(kind: str, column: str, profile_id: str) -> str:
    key = _primary(kind, profile_id)
    return f"UPDATE profiles SET {column} = {key} WHERE id = {profile_id} AND {column} IS NOT {key};"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # what the triggers read: unique (it holds the id), so a bulk load that drops the plain
    # indexes while it loads (seed/load.py) keeps it and the triggers stay one index seek
    op.create_index("ux_identities_profile_kind", "identities", ["profile_id", "kind", "id"], unique=True)
    for column in KEYS.values():  # ADD COLUMN in place: the table (and its triggers) stays
        op.add_column("profiles", sa.Column(column, sa.String(length=255), nullable=True))
    if postgres:
        _upgrade_postgres()
    else:
        _upgrade_sqlite()
    _backfill()
    for column in KEYS.values():
        op.create_index(f"ix_profiles_status_{column}", "profiles", ["status", column, "id"])


def _upgrade_sqlite() -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TRIGGER}")
    op.execute(f"""CREATE TRIGGER {VERSION_TRIGGER} AFTER UPDATE ON profiles
                   FOR EACH ROW WHEN NEW.version = OLD.version
                   AND NEW.email_sort IS OLD.email_sort AND NEW.phone_sort IS OLD.phone_sort
                   BEGIN UPDATE profiles SET version = OLD.version + 1 WHERE id = OLD.id; END""")
    for kind, column in KEYS.items():
        op.execute(f"""CREATE TRIGGER identities_{column}_insert AFTER INSERT ON identities
                       FOR EACH ROW WHEN NEW.kind = '{kind}'
                       BEGIN {_refresh_sqlite(kind, column, "NEW.profile_id")} END""")
        op.execute(f"""CREATE TRIGGER identities_{column}_delete AFTER DELETE ON identities
                       FOR EACH ROW WHEN OLD.kind = '{kind}'
                       BEGIN {_refresh_sqlite(kind, column, "OLD.profile_id")} END""")
        op.execute(f"""CREATE TRIGGER identities_{column}_update
                       AFTER UPDATE OF profile_id, kind, value, is_encrypted ON identities
                       FOR EACH ROW WHEN OLD.kind = '{kind}' OR NEW.kind = '{kind}'
                       BEGIN {_refresh_sqlite(kind, column, "OLD.profile_id")}
                             {_refresh_sqlite(kind, column, "NEW.profile_id")} END""")


def _upgrade_postgres() -> None:
    # a sort key written alone is not a change of the profile (see the docstring)
    op.execute(f"""CREATE OR REPLACE FUNCTION {VERSION_TRIGGER}() RETURNS trigger AS $$
                   BEGIN
                     IF NEW.email_sort IS DISTINCT FROM OLD.email_sort
                        OR NEW.phone_sort IS DISTINCT FROM OLD.phone_sort THEN RETURN NEW; END IF;
                     NEW.version := OLD.version + 1; RETURN NEW;
                   END; $$ LANGUAGE plpgsql""")
    op.execute(f"""CREATE OR REPLACE FUNCTION {PG_FUNCTION}_refresh(pid integer) RETURNS void AS $$
                   DECLARE e varchar; p varchar;
                   BEGIN
                     e := {_primary("email", "pid")};
                     p := {_primary("phone", "pid")};
                     UPDATE profiles SET email_sort = e, phone_sort = p
                      WHERE id = pid AND (email_sort IS DISTINCT FROM e OR phone_sort IS DISTINCT FROM p);
                   END; $$ LANGUAGE plpgsql""")
    op.execute(f"""CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger AS $$
                   BEGIN
                     IF TG_OP <> 'INSERT' THEN PERFORM {PG_FUNCTION}_refresh(OLD.profile_id); END IF;
                     IF TG_OP = 'INSERT' OR NEW.profile_id <> OLD.profile_id THEN
                       PERFORM {PG_FUNCTION}_refresh(NEW.profile_id);
                     END IF;
                     RETURN NULL;
                   END; $$ LANGUAGE plpgsql""")
    kinds = "('email', 'phone')"
    op.execute(f"""CREATE TRIGGER {PG_FUNCTION}_insert AFTER INSERT ON identities
                   FOR EACH ROW WHEN (NEW.kind IN {kinds}) EXECUTE FUNCTION {PG_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {PG_FUNCTION}_delete AFTER DELETE ON identities
                   FOR EACH ROW WHEN (OLD.kind IN {kinds}) EXECUTE FUNCTION {PG_FUNCTION}()""")
    op.execute(f"""CREATE TRIGGER {PG_FUNCTION}_update
                   AFTER UPDATE OF profile_id, kind, value, is_encrypted ON identities
                   FOR EACH ROW WHEN (OLD.kind IN {kinds} OR NEW.kind IN {kinds})
                   EXECUTE FUNCTION {PG_FUNCTION}()""")


def _backfill() -> None:
    """The keys of the profiles that exist, in batches of ids. Only rows whose key is
    set are written (the keys start empty), so the version trigger counts nothing."""
    conn = op.get_bind()
    high = conn.execute(sa.text("SELECT max(id) FROM profiles")).scalar() or 0
    for start in range(0, high + 1, BATCH):
        for kind, column in KEYS.items():
            conn.execute(
                sa.text(
                    f"UPDATE profiles SET {column} = {_primary(kind, 'profiles.id')}"
                    " WHERE id BETWEEN :low AND :high AND EXISTS (SELECT 1 FROM identities AS i"
                    f" WHERE i.profile_id = profiles.id AND i.kind = '{kind}' AND NOT i.is_encrypted)"
                ),
                {"low": start, "high": start + BATCH - 1},
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {PG_FUNCTION}_{event} ON identities")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}_refresh(integer)")
        op.execute(f"""CREATE OR REPLACE FUNCTION {VERSION_TRIGGER}() RETURNS trigger AS $$
                       BEGIN NEW.version := OLD.version + 1; RETURN NEW; END; $$ LANGUAGE plpgsql""")
    else:
        for column in KEYS.values():
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS identities_{column}_{event}")
        op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TRIGGER}")
    for column in KEYS.values():
        op.execute(f"DROP INDEX IF EXISTS ix_profiles_status_{column}")
        # a plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose its triggers
        op.execute(
            f"ALTER TABLE profiles DROP COLUMN IF EXISTS {column}"
            if postgres
            else f"ALTER TABLE profiles DROP COLUMN {column}"
        )
    op.execute("DROP INDEX IF EXISTS ux_identities_profile_kind")
    if not postgres:
        op.execute(f"""CREATE TRIGGER {VERSION_TRIGGER} AFTER UPDATE ON profiles
                       FOR EACH ROW WHEN NEW.version = OLD.version
                       BEGIN UPDATE profiles SET version = OLD.version + 1 WHERE id = OLD.id; END""")
