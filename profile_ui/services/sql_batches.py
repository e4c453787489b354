"""Lookups by a long list of values, in IN-sized batches that each travel as one parameter
(an array on PostgreSQL, a JSON array read by `json_each` on SQLite): the import pipeline,
undo, the duplicate scan and erasure all read rows this way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped
from sqlmodel import Session

# values per lookup query: one JSON array (SQLite) or one array parameter (PostgreSQL) each
_IN_BATCH = 100_000


def in_batches(
    session: Session, values: Sequence, query_for_batch: Callable[[Any], Any], *, plain: bool = False
) -> list[tuple]:
    """Run `query_for_batch(bound_values)` over `values` in IN-sized batches; all rows.

    The batch travels as ONE parameter: an array on PostgreSQL (`= ANY(:values)`), a JSON
    array read by `json_each` on SQLite. Both use the index on the looked-up column, and
    neither pays for compiling tens of thousands of bind parameters.
    `plain`: the driver's own tuples, without SQLAlchemy's rows or type processing (dates
    stay as SQLite's text): for hundreds of thousands of rows read into a polars frame.
    """
    rows: list[tuple] = []
    if not len(values):
        return rows
    postgres = session.connection().dialect.name == "postgresql"
    for start in range(0, len(values), _IN_BATCH):
        chunk = list(values[start : start + _IN_BATCH])
        # Core execution on the session's connection: no ORM row processing
        result = session.connection().execute(query_for_batch(_bound_list(chunk, postgres)))
        if plain:
            rows.extend(result.cursor.fetchall())
            result.close()
        else:
            rows.extend(result.all())
    return rows


def _bound_list(values: list, postgres: bool) -> Any:
    if postgres:
        element = sa.BigInteger() if values and isinstance(values[0], int) else sa.Text()
        return sa.any_(sa.bindparam("values", values, type_=postgresql.ARRAY(element)))
    each = sa.func.json_each(sa.bindparam("values", json.dumps(values), type_=sa.Text())).table_valued("value")
    return sa.select(each.c.value)


def in_filter(column: sa.ColumnElement | Mapped[Any], bound: Any) -> sa.ColumnElement:
    """`column IN bound` where `bound` came from `in_batches`."""
    if isinstance(bound, sa.Select):
        return column.in_(bound)
    return column == bound
