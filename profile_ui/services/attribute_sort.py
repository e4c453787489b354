"""Sorting the profile list by a custom attribute (a key of `Profile.attributes`).

A custom attribute sorts by its stored JSON value: on SQLite `json_extract` (numbers as
numbers, text, dates and times as their ISO text), on PostgreSQL the `jsonb` value
(numbers numerically, text as text). Multiple-choice attributes hold lists and do not
sort. Paging is the list's own (offset, with the tail read backwards; ties broken by id).

There is no index per custom attribute (attributes are created by administrators at run
time, the schema is fixed): a sorted page reads the rows the filter allows and keeps the
top ones, so its cost grows with the rows matched (see benchmarks/list_bench.py).
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlmodel import col

from ..models import FieldDefinition, FieldType, Profile

UNSORTABLE_TYPES = frozenset({FieldType.MULTIPLE_CHOICE})


def can_sort_by(definition: FieldDefinition) -> bool:
    """Whether the list can sort by this custom attribute."""
    return not definition.is_system and definition.type not in UNSORTABLE_TYPES


class AttributeValue(sa.sql.expression.ColumnElement):
    """The value of one key of `profiles.attributes`, in an order the database can sort."""

    inherit_cache = True
    type = sa.types.NullType()
    _traverse_internals = [("attribute_key", sa.sql.visitors.InternalTraversal.dp_plain_obj)]  # noqa: RUF012 (SQLAlchemy's protocol)

    def __init__(self, key: str) -> None:
        self.attribute_key = key


@compiles(AttributeValue)
def _attribute_value_default(element: AttributeValue, compiler: Any, **kw: Any) -> str:
    path = '$."' + element.attribute_key.replace('"', '\\"') + '"'
    return compiler.process(sa.func.json_extract(Profile.attributes, path), **kw)


@compiles(AttributeValue, "postgresql")
def _attribute_value_pg(element: AttributeValue, compiler: Any, **kw: Any) -> str:
    return compiler.process(sa.cast(Profile.attributes, JSONB)[element.attribute_key], **kw)


def attribute_sort_columns(key: str) -> tuple[sa.ColumnElement, ...]:
    """The ORDER BY columns for a custom attribute (the id breaks ties)."""
    return (AttributeValue(key), cast(sa.ColumnElement[Any], col(Profile.id)))
