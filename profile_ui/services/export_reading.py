"""Reading an export's rows, per database backend, in bulk: no Python object per cell.

PostgreSQL copies a statement's rows out as CSV (`COPY ... TO STDOUT`); SQLite packs a
chunk into one value that polars parses (see `_packed_frame`), and reads the simple
custom-field values from the JSON itself (`sqlite_attribute`). `SqliteHelper` is a child
process with its own SQLite connection, so the related tables are read beside the
profiles without two connections slowing each other down in one process.

Used by services/export_chunks.py (the chunk reader) and services/exporting.py
(`text_frame`, for the audit CSV).
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlmodel import Session, SQLModel

from .export_format import (
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    MULTI_VALUE_SEPARATOR,
    ExportError,
)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def is_sqlite_file(session: Session) -> bool:
    """A SQLite database in a file another process can open (not in memory)."""
    bind = session.get_bind()
    database = bind.url.database if isinstance(bind, sa.Engine) else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return Path(database).exists()


def table_of(model: type[SQLModel]) -> sa.Table:
    """A model's table (its Core columns, for bulk SQL without an ORM object per row)."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


def raw_rows(conn: ReadConnection, statement: sa.Select) -> Sequence[tuple]:
    """The driver's own tuples: no per-value conversion (the frames convert whole columns)."""
    if isinstance(conn, SqliteHelper):
        return conn.rows(statement)
    result = conn.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def text_frame(rows: Sequence[Sequence[Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row")


# SQLite hands a chunk over as ONE value: its rows packed by group_concat, fields split by _FIELD, rows by
# _ROW, every non-NULL text prefixed by _SOME (so ''
# and NULL stay apart) and a last constant field _END (the parse must end on it). The
# database does that work inside sqlite3_step, without the GIL, and polars parses the
# bytes: no Python object per cell. A chunk whose values hold a separator (the parse finds
# a row too many, too long or cut short) or a CR (polars' reader drops one before a
# separator) is read again row by row.
_FIELD, _ROW, _SOME, _END = "\x1f", "\x1e", "~", "."


def read_frame(
    conn: ReadConnection, postgres: bool, statement: sa.Select, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """The statement's rows as a frame (columns in `schema` order), read in bulk: COPY ...
    TO STDOUT as CSV on PostgreSQL, one packed value on SQLite (a helper process reads
    SQLite only)."""
    if postgres and isinstance(conn, sa.Connection):
        return _copy_frame(conn, statement, schema)
    return _packed_frame(conn, statement, schema)


def _copy_frame(conn: sa.Connection, statement: sa.Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        raise ExportError("The export's database connection is closed")
    cursor = dbapi.cursor()
    try:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            data = b"".join(bytes(block) for block in copy)
    finally:
        cursor.close()
    if not data:
        return pl.DataFrame(schema=schema)
    # CSV keeps NULL (an empty field) apart from '' (a quoted empty field)
    return pl.read_csv(data, has_header=False, schema=schema, quote_char='"')


def _packed_frame(conn: ReadConnection, statement: sa.Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    sub = statement.subquery()
    names = list(schema)
    pieces: list[sa.ColumnElement] = []
    for name, column in zip(names, sub.c, strict=True):
        text = sa.type_coerce(column, sa.String)
        pieces += [
            sa.func.coalesce(sa.literal(_SOME) + text if schema[name] == pl.String() else text, ""),
            sa.literal(_FIELD),
        ]
    row = pieces[0]
    for piece in [*pieces[1:], sa.literal(_END)]:  # || keeps a NUL inside a value (printf's %s stops there)
        row = sa.type_coerce(row, sa.String) + piece
    packed = sa.select(
        sa.func.count(), sa.cast(sa.func.group_concat(row, sa.literal(_ROW)), sa.LargeBinary)
    ).select_from(sub)
    count, data = raw_rows(conn, packed)[0]
    if not count:
        return pl.DataFrame(schema=schema)
    frame = None
    if b"\r" not in data:  # the CSV reader drops a CR before a separator
        try:
            frame = pl.read_csv(
                data,
                separator=_FIELD,
                eol_char=_ROW,
                quote_char=None,
                has_header=False,
                schema={**schema, "__end": pl.String()},
            )
        except pl.exceptions.PolarsError:
            pass
    if frame is not None and frame.height == count and frame["__end"].eq(_END).fill_null(False).all():
        return frame.select([pl.col(n).str.slice(1) if schema[n] == pl.String() else pl.col(n) for n in names])
    # a value holds a separator: read this chunk row by row
    return text_frame(raw_rows(conn, statement), schema)


def agg_text(postgres: bool, value: sa.ColumnElement, order: sa.ColumnElement) -> sa.ColumnElement:
    """Values of a group joined with "|" in the order they were added (NULLs skipped).

    SQLite's group_concat follows the index walk, which is profile id then row id."""
    if postgres:
        return sa.func.string_agg(value, aggregate_order_by(sa.literal_column("'|'"), order))
    return sa.func.group_concat(value, MULTI_VALUE_SEPARATOR)


def profile_text(postgres: bool, column: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """A profile column as the text the file shows (dates ISO, datetimes UTC, no micros)."""
    if key in DATETIME_COLUMNS:
        if postgres:
            return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 19)  # stored as UTC text
    if key in DATE_COLUMNS:
        if postgres:
            return sa.func.to_char(column, "YYYY-MM-DD")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 10)
    return sa.type_coerce(column, sa.String())


SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RAW_PREFIX = "__raw:"
LEFT_TO_POLARS = "\x1d"


def sqlite_attribute(attributes: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """A custom field's value as the text polars' json_path_match gives (a string, a whole
    number, true/false; NULL when missing or null); anything else (decimals, lists, objects,
    JSON SQLite cannot read) is LEFT_TO_POLARS. SQLite parses the JSON once a row."""
    path = f"$.{key}"
    kind = sa.func.json_type(attributes, path)
    value = sa.func.json_extract(attributes, path)
    # SQLite ends a text at a \\u0000 and turns a lone surrogate escape into bytes that are
    # not UTF-8: polars reads the texts of JSON holding either
    odd = (
        sa.func.instr(attributes, r"\u0000") + sa.func.instr(attributes, r"\ud") + sa.func.instr(attributes, r"\uD")
    ) > 0
    by_kind = sa.case(
        {
            "text": sa.case((odd, sa.literal(LEFT_TO_POLARS)), else_=sa.type_coerce(value, sa.String)),
            "integer": sa.case(
                (sa.func.typeof(value) == "integer", sa.cast(value, sa.Text)), else_=sa.literal(LEFT_TO_POLARS)
            ),
            "true": sa.literal("true"),
            "false": sa.literal("false"),
            "null": sa.null(),
        },
        value=kind,
        else_=sa.case((kind.is_(None), sa.null()), else_=sa.literal(LEFT_TO_POLARS)),
    )
    return sa.case((sa.func.json_valid(attributes) == 1, by_kind), else_=sa.literal(LEFT_TO_POLARS))


_HELPER_CODE = r"""
import pickle, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30)
source, sink = sys.stdin.buffer, sys.stdout.buffer
while True:
    try:
        sql, params = pickle.load(source)
    except EOFError:
        break
    try:
        reply = (True, conn.execute(sql, params).fetchall())
    except Exception as error:
        reply = (False, f"{type(error).__name__}: {error}")
    pickle.dump(reply, sink, protocol=pickle.HIGHEST_PROTOCOL)
    sink.flush()
"""


class SqliteHelper:
    """A child process with its own connection to the SQLite file, running one thread's
    statements: two SQLite connections working at once in one process slow each other down
    (shared locks around memory), two processes do not. It only reads (plain sqlite3, no
    project code) and ends when its input closes."""

    def __init__(self, engine: sa.Engine) -> None:
        self.dialect = engine.dialect
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HELPER_CODE, str(engine.url.database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if self.process.stdin is None or self.process.stdout is None:  # PIPE always gives both
            raise ExportError("The export's reader process has no pipes")
        self.requests, self.replies = self.process.stdin, self.process.stdout

    def rows(self, statement: sa.Select) -> list[tuple]:
        compiled = statement.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = []
        for name in compiled.positiontup or []:
            value = compiled.params[name]
            process = compiled.binds[name].type.bind_processor(self.dialect)
            params.append(process(value) if process else value)
        try:
            pickle.dump((str(compiled), params), self.requests, protocol=pickle.HIGHEST_PROTOCOL)
            self.requests.flush()
            ok, value = pickle.load(self.replies)
        except (OSError, EOFError) as error:
            raise ExportError(f"The export's reader process stopped ({error})") from error
        if not ok:
            raise ExportError(f"The export's reader process failed: {value}")
        return value

    def close(self) -> None:
        try:
            self.requests.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


# a connection to read an export's rows on: the caller's, a pooled one, or a helper process
ReadConnection = sa.Connection | SqliteHelper
