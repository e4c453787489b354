"""profiles.name_folded: the name as the query box compares it, with its own index

"nguyen" finds "Nguyễn" and "tran thi" finds "Trần Thị": the list's query box matches
the start of the folded name (transliterated to ASCII by anyascii, lower case, runs of
spaces as one; models.fold_name) with one range of (status, name_folded, full_name),
and the list sorted by name reads the same index (folded first, then as written). Every writer of full_name
writes it (ORM listeners, the bulk writer, the
seed); this migration fills it for the rows that exist, in batches of ids.

The list also sorts by custom attributes: one expression index per existing custom
attribute on (status, its value, id) (services/attribute_sort.py makes them for new ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:00:00
"""

import re

import sqlalchemy as sa
from anyascii import anyascii

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 5_000


def _fold(name: str) -> str | None:
    # models.fold_name as of this revision (a migration keeps its own copy)
    return " ".join(anyascii(name).lower().split())[:255] or None


def upgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_folded", sa.String(length=255), nullable=True))
    conn = op.get_bind()
    profiles = sa.table(
        "profiles", sa.column("id", sa.Integer), sa.column("full_name", sa.String), sa.column("name_folded", sa.String)
    )
    update = profiles.update().where(profiles.c.id == sa.bindparam("v_id")).values(name_folded=sa.bindparam("v_folded"))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(profiles.c.id, profiles.c.full_name)
            .where(profiles.c.id > last, profiles.c.full_name.is_not(None))
            .order_by(profiles.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(update, [{"v_id": pid, "v_folded": _fold(name)} for pid, name in rows])
        last = rows[-1][0]
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.create_index("ix_profiles_status_name_folded", ["status", "name_folded", "full_name"], unique=False)
    # the sort by each custom attribute walks an index on its value (the same text as
    # services/attribute_sort.py's ORDER BY); later fields get theirs when they are made
    for key in _custom_keys(conn):
        op.execute(f"CREATE INDEX IF NOT EXISTS {_attr_index(key)} ON profiles (status, {_attr_value(conn, key)}, id)")


def _custom_keys(conn: sa.Connection) -> list[str]:
    rows = conn.execute(sa.text("SELECT key FROM field_definitions WHERE NOT is_system")).scalars()
    return [key for key in rows if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key)]


def _attr_index(key: str) -> str:
    return f"ix_profiles_attr_{key}"[:63]


def _attr_value(conn: sa.Connection, key: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(CAST(attributes AS JSONB) -> '{key}')"
    return f"json_extract(attributes, '$.{key}')"


def downgrade() -> None:
    for key in _custom_keys(op.get_bind()):
        op.execute(f"DROP INDEX IF EXISTS {_attr_index(key)}")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_status_name_folded")
        batch_op.drop_column("name_folded")
