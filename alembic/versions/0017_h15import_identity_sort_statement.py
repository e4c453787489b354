"""identities' sort keys on PostgreSQL: one set-based refresh per INSERT statement

Migration 0013 keeps profiles.email_sort / phone_sort with a row-level trigger after each
INSERT of an e-mail or phone identity: the profile's keys are recomputed and the profile
row rewritten, once per identity. A bulk import's COPY of 59,500 identities (29,750 new
profiles with an e-mail and a phone) so rewrote profile rows 59,500 times, each a new row
version in all of the profiles table's indexes (the keys are indexed, so no HOT update):
18.5 s of a 48 s apply at 1,000,000 profiles (benchmarks/README.md, issue 15).

On PostgreSQL the INSERT trigger becomes a statement-level one with a transition table:
after each INSERT (or COPY) statement, one UPDATE sets the keys of the profiles it gave an
e-mail or phone, with the same expression and the same "only where a key changes" test,
so each profile row is written at most once per statement. The keys after a statement
are the same as before (row-level AFTER triggers also ran at the statement's end); the
version trigger still does not count a key written alone. DELETE and UPDATE keep their
row-level triggers (an UPDATE trigger with a column list cannot have a transition table).
SQLite has no transition tables: its triggers stay, and the bulk writer does their work
set-based itself (services/bulk_writer.py).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:50:00
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PG_FUNCTION = "identities_sort_keys"  # 0013
INSERTED_FUNCTION = "identities_sort_keys_inserted"
KINDS = "('email', 'phone')"


def _primary(kind: str, profile_id: str) -> str:
    # as 0013: the first plain identity of the kind (a seek in ux_identities_profile_kind)
    return (
        f"(SELECT i.value FROM identities AS i WHERE i.profile_id = {profile_id} AND i.kind = '{kind}'"
        " AND NOT i.is_encrypted ORDER BY i.id LIMIT 1)"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""CREATE OR REPLACE FUNCTION {INSERTED_FUNCTION}() RETURNS trigger AS $$
                   BEGIN
                     UPDATE profiles AS p SET email_sort = k.e, phone_sort = k.ph
                       FROM (SELECT d.pid, {_primary("email", "d.pid")} AS e, {_primary("phone", "d.pid")} AS ph
                               FROM (SELECT DISTINCT profile_id AS pid FROM inserted
                                      WHERE kind IN {KINDS}) AS d) AS k
                      WHERE p.id = k.pid
                        AND (p.email_sort IS DISTINCT FROM k.e OR p.phone_sort IS DISTINCT FROM k.ph);
                     RETURN NULL;
                   END; $$ LANGUAGE plpgsql""")
    op.execute(f"DROP TRIGGER IF EXISTS {PG_FUNCTION}_insert ON identities")
    op.execute(f"""CREATE TRIGGER {PG_FUNCTION}_insert AFTER INSERT ON identities
                   REFERENCING NEW TABLE AS inserted
                   FOR EACH STATEMENT EXECUTE FUNCTION {INSERTED_FUNCTION}()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {PG_FUNCTION}_insert ON identities")
    op.execute(f"DROP FUNCTION IF EXISTS {INSERTED_FUNCTION}()")
    op.execute(f"""CREATE TRIGGER {PG_FUNCTION}_insert AFTER INSERT ON identities
                   FOR EACH ROW WHEN (NEW.kind IN {KINDS}) EXECUTE FUNCTION {PG_FUNCTION}()""")
