"""Sorting the profile list by a custom attribute (a key of `Profile.attributes`).

A custom attribute sorts by its stored JSON value: on SQLite `json_extract` (numbers as
numbers, text, dates and times as their ISO text), on PostgreSQL the `jsonb` value
(numbers numerically, text as text). Multiple-choice attributes hold lists and do not
sort. Paging is the list's own (offset, with the tail read backwards; ties broken by id).

Each custom attribute has an expression index on (status, its value, id), made with the
field (`ensure_sort_index`: workspace settings, the seed, migration 0011 for the fields
that existed; it makes a text field's query-box index too, attribute_search.py) and
dropped with it, so a sorted page walks an index like the system
columns do. The index expression and the ORDER BY expression are the same text (the key
is a literal, never a parameter), which is what lets either database match them.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session, col

from ..models import ATTRIBUTE_INDEX_PREFIX, FieldDefinition, FieldType, Profile
from .attribute_search import drop_search_index, ensure_search_index, is_field_key

UNSORTABLE_TYPES = frozenset({FieldType.MULTIPLE_CHOICE})


def sortable_key(key: str) -> bool:
    """A field key (attribute_search.is_field_key) is written into SQL as it is; any other
    is not sorted by."""
    return is_field_key(key)


def can_sort_by(definition: FieldDefinition) -> bool:
    """Whether the list can sort by this custom attribute."""
    return not definition.is_system and definition.type not in UNSORTABLE_TYPES and sortable_key(definition.key)


class AttributeValue(sa.sql.expression.ColumnElement):
    """The value of one key of `profiles.attributes`, in an order the database can sort."""

    inherit_cache = True
    type = sa.types.NullType()
    _traverse_internals = [("attribute_key", sa.sql.visitors.InternalTraversal.dp_plain_obj)]  # noqa: RUF012 (SQLAlchemy's protocol)

    def __init__(self, key: str) -> None:
        self.attribute_key = key


def _sqlite_expression(key: str, table: str = "profiles.") -> str:
    return f"json_extract({table}attributes, '$.{key}')"


def _postgres_expression(key: str, table: str = "profiles.") -> str:
    return f"(CAST({table}attributes AS JSONB) -> '{key}')"


@compiles(AttributeValue)
def _attribute_value_default(element: AttributeValue, compiler: Any, **kw: Any) -> str:
    return _sqlite_expression(_safe_key(element.attribute_key))


@compiles(AttributeValue, "postgresql")
def _attribute_value_pg(element: AttributeValue, compiler: Any, **kw: Any) -> str:
    return _postgres_expression(_safe_key(element.attribute_key))


def _safe_key(key: str) -> str:
    if not sortable_key(key):
        raise ValueError(f"'{key}' is not a field key")
    return key


def _index_name(key: str) -> str:
    return f"{ATTRIBUTE_INDEX_PREFIX}{key}"[:63]  # PostgreSQL's identifier limit


def ensure_sort_index(session: Session, key: str) -> None:
    """Create the expression index the sort by custom attribute `key` walks (if missing)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    expression = (_postgres_expression if postgres else _sqlite_expression)(_safe_key(key), "")
    session.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {_index_name(key)} ON profiles (status, {expression}, id)"))
    ensure_search_index(session, key)  # and, for a text field, the query box's index


def drop_sort_index(session: Session, key: str) -> None:
    session.execute(sa.text(f"DROP INDEX IF EXISTS {_index_name(_safe_key(key))}"))
    drop_search_index(session, key)


def attribute_sort_columns(key: str) -> tuple[sa.ColumnElement, ...]:
    """The ORDER BY columns for a custom attribute (the id breaks ties)."""
    return (AttributeValue(key), cast(sa.ColumnElement[Any], col(Profile.id)))
