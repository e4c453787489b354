"""The query box on text custom fields: accent-insensitive, from one index per field.

"ha noi" finds a profile whose text field shown as a list column holds "Hà Nội": the
query box matches the start of the field's folded value (`profiles.attributes_folded`,
models.fold_attributes: anyascii, lower case, runs of spaces as one) the way it matches
the start of a folded name. Every writer of `attributes` writes `attributes_folded` (ORM
listeners, models.with_folded_name for Core statements, the bulk writer, the seed).

Each text custom field has an expression index on (status, its folded value), made with
the field (attribute_sort.ensure_sort_index calls `ensure_search_index`; migration 0012
for the fields that existed) and dropped with it. As in attribute_sort.py, the key is
written into the SQL as a literal (field keys are checked), so the index expression and
the query's are the same text: SQLite's `json_extract`, PostgreSQL's `->>` on jsonb.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session, col, select

from ..models import SEARCH_INDEX_PREFIX, FieldDefinition, FieldType

SEARCHABLE_TYPES = frozenset({FieldType.TEXT})


def is_field_key(key: str) -> bool:
    """Field keys are lower-case letters, digits and _ (workspace_settings._check_key):
    such a key is written into SQL as it is; any other is never."""
    return re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key) is not None


def can_search(definition: FieldDefinition) -> bool:
    """Whether the query box searches this field when it is shown as a column."""
    return not definition.is_system and definition.type in SEARCHABLE_TYPES and is_field_key(definition.key)


class FoldedAttribute(sa.sql.expression.ColumnElement):
    """The folded text of one custom attribute: a key of `column` (profiles.attributes_folded)."""

    inherit_cache = True
    type = sa.types.NullType()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's protocol)
        ("column", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("attribute_key", sa.sql.visitors.InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: sa.ColumnElement, key: str) -> None:
        self.column = column
        self.attribute_key = key


def _sqlite_expression(column: str, key: str) -> str:
    return f"json_extract({column}, '$.{key}')"


def _postgres_expression(column: str, key: str) -> str:
    return f"(CAST({column} AS JSONB) ->> '{key}')"


def _checked(key: str) -> str:
    if not is_field_key(key):
        raise ValueError(f"'{key}' is not a field key")
    return key


@compiles(FoldedAttribute)
def _folded_default(element: FoldedAttribute, compiler: Any, **kw: Any) -> str:
    return _sqlite_expression(compiler.process(element.column, **kw), _checked(element.attribute_key))


@compiles(FoldedAttribute, "postgresql")
def _folded_pg(element: FoldedAttribute, compiler: Any, **kw: Any) -> str:
    return _postgres_expression(compiler.process(element.column, **kw), _checked(element.attribute_key))


def _index_name(key: str) -> str:
    return f"{SEARCH_INDEX_PREFIX}{key}"[:63]  # PostgreSQL's identifier limit


def ensure_search_index(session: Session, key: str) -> None:
    """Create the index the query box reads for text custom field `key` (if it is one and
    the index is missing)."""
    field_type = session.exec(select(FieldDefinition.type).where(col(FieldDefinition.key) == key)).first()
    if field_type not in SEARCHABLE_TYPES:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    expression = (_postgres_expression if postgres else _sqlite_expression)("attributes_folded", _checked(key))
    session.execute(
        sa.text(f"CREATE INDEX IF NOT EXISTS {_index_name(key)} ON profiles (status, {expression}{_ops(postgres)})")
    )


def _ops(postgres: bool) -> str:
    """PostgreSQL reads a LIKE 'abc%' as an index range only with text_pattern_ops (or
    the C collation); SQLite's prefix ranges are plain comparisons (name_fold.py)."""
    return " text_pattern_ops" if postgres else ""


def drop_search_index(session: Session, key: str) -> None:
    session.execute(sa.text(f"DROP INDEX IF EXISTS {_index_name(_checked(key))}"))
