"""profiles.attributes_folded: custom text values as the query box compares them

"ha noi" finds "Hà Nội" in a text custom field shown as a list column: the query box
matches the start of the field's folded value (models.fold_attributes: each string value
transliterated to ASCII by anyascii, lower case, runs of spaces as one). Every writer of
attributes writes it (ORM listeners, models.with_folded_name, the bulk writer, the seed);
this migration fills it for the rows that exist, in batches of ids, and makes one
expression index on (status, folded value) per existing text custom field
(services/attribute_search.py makes them for new ones).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:10:00
"""

import json
import re

import sqlalchemy as sa
from anyascii import anyascii

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BATCH = 5_000


def _fold(text: str) -> str | None:
    # models.fold_name as of this revision (a migration keeps its own copy)
    return " ".join(anyascii(text).lower().split())[:255] or None


def _fold_attributes(attributes: dict | None) -> dict:
    return {key: _fold(value) for key, value in (attributes or {}).items() if isinstance(value, str)}


def upgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes_folded", sa.JSON(none_as_null=True), nullable=True))
    conn = op.get_bind()
    profiles = sa.table(
        "profiles", sa.column("id", sa.Integer), sa.column("attributes", sa.JSON), sa.column("attributes_folded")
    )
    update = (
        profiles.update()
        .where(profiles.c.id == sa.bindparam("v_id"))
        .values(attributes_folded=sa.bindparam("v_folded", type_=sa.JSON(none_as_null=True)))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(profiles.c.id, profiles.c.attributes)
            .where(profiles.c.id > last)
            .order_by(profiles.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(update, [{"v_id": pid, "v_folded": _fold_attributes(_loaded(value))} for pid, value in rows])
        last = rows[-1][0]
    for key in _text_keys(conn):
        op.execute(f"CREATE INDEX IF NOT EXISTS {_index(key)} ON profiles (status, {_folded_value(conn, key)})")


def _loaded(value: object) -> dict | None:
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]  # the driver's JSON


def _text_keys(conn: sa.Connection) -> list[str]:
    rows = conn.execute(sa.text("SELECT key FROM field_definitions WHERE NOT is_system AND type = 'text'")).scalars()
    return [key for key in rows if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key)]


def _index(key: str) -> str:
    return f"ix_profiles_fold_{key}"[:63]


def _folded_value(conn: sa.Connection, key: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(CAST(attributes_folded AS JSONB) ->> '{key}')"
    return f"json_extract(attributes_folded, '$.{key}')"


def downgrade() -> None:
    for key in _text_keys(op.get_bind()):
        op.execute(f"DROP INDEX IF EXISTS {_index(key)}")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("attributes_folded")
