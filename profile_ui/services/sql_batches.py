"""Lookups by a long list of values, in IN-sized batches that each travel as one parameter
(an array on PostgreSQL, a JSON array read by `json_each` on SQLite): the import pipeline,
undo, the duplicate scan and erasure all read rows this way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped
from sqlmodel import Session

from .export_reading import read_frame

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
    for bound in _bound_batches(session, values):
        # Core execution on the session's connection: no ORM row processing
        result = session.connection().execute(query_for_batch(bound))
        if plain:
            rows.extend(result.cursor.fetchall())
            result.close()
        else:
            rows.extend(result.all())
    return rows


def bulk_frame(session: Session, statement: sa.Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A statement's rows as a frame (columns in `schema` order), read on the session's
    connection (its transaction's writes included) in bulk, no Python object per value:
    export_reading.read_frame (COPY on PostgreSQL, one packed value on SQLite)."""
    connection = session.connection()
    return read_frame(connection, connection.dialect.name == "postgresql", statement, schema)


def frame_in_batches(
    session: Session, values: Sequence, query_for_batch: Callable[[Any], Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """in_batches' rows as one frame, each batch read by bulk_frame: for hundreds of
    thousands of rows (a duplicate check's partners and blocks)."""
    frames = [bulk_frame(session, query_for_batch(bound), schema) for bound in _bound_batches(session, values)]
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def _bound_batches(session: Session, values: Sequence) -> Iterator[Any]:
    """`values` in IN-sized batches, each as the one bound parameter in_filter takes."""
    if not len(values):
        return
    postgres = session.connection().dialect.name == "postgresql"
    for start in range(0, len(values), _IN_BATCH):
        yield _bound_list(list(values[start : start + _IN_BATCH]), postgres)


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
