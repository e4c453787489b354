"""Writing an export file: profiles read in keyset chunks with bulk SQL, assembled into
polars frames, streamed into a CSV, zip-of-CSV or xlsx sink of services/sheet_writer.py
(memory flat with size; no cell runs as a formula).

`write_profiles_file` is the entry point; what to export (columns, permissions, audit)
is decided in services/exporting.py, which calls it.

Streaming: profiles are read in keyset-paginated chunks (by id) with bulk SQL, each chunk
becomes a polars frame (identities, tags, segments and groups joined in by one grouped
query each, values joined by the database) and is appended to the file, so memory stays
flat whatever the size. xlsx is written by `sheet_writer.XlsxSink` (sheet XML built
column-wise by polars): xlsxwriter's per-cell calls cost ~12 µs a cell, 50,000 profiles x
21 columns took ~14 s of CPU. An xlsx sheet holds 1,048,575 data rows; bigger exports
continue on further sheets.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlmodel import Session, select

from ..models import (
    Group,
    GroupMembership,
    Identity,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
)
from . import file_store
from .crypto import EncryptionKeyError, IdentityCryptoError, decrypt_identity_value
from .export_format import (
    _DATE_COLUMNS,
    _DATETIME_COLUMNS,
    EXPORT_CHUNK_ROWS,
    EXPORT_FORMATS,
    GROUPS_COLUMN,
    IDENTITY_PREFIX,
    MULTI_VALUE_SEPARATOR,
    RELATED_READERS,
    SEGMENTS_COLUMN,
    TAG_PREFIX,
    TAG_WITHOUT_VALUE,
    ExportColumn,
    ExportError,
)
from .profiles import ProfileFilter, filter_condition
from .sheet_writer import CsvSink, XlsxSink, ZipSink


# ---------------------------------------------------------------- reading chunks
def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _sqlite_file(session: Session) -> bool:
    """A SQLite database in a file another process can open (not in memory)."""
    bind = session.get_bind()
    database = bind.url.database if isinstance(bind, sa.Engine) else None
    return bool(database) and database != ":memory:" and not database.startswith("file:") and Path(database).exists()


def _raw_rows(conn: sa.Connection | _SqliteHelper, statement: sa.Select) -> list[tuple]:
    """The driver's own tuples: no per-value conversion (the frames convert whole columns)."""
    if isinstance(conn, _SqliteHelper):
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


def _read_frame(
    conn: sa.Connection, postgres: bool, statement: sa.Select, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """The statement's rows as a frame (columns in `schema` order), read in bulk: COPY ...
    TO STDOUT as CSV on PostgreSQL, one packed value on SQLite."""
    if postgres:
        return _copy_frame(conn, statement, schema)
    return _packed_frame(conn, statement, schema)


def _copy_frame(conn: sa.Connection, statement: sa.Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            data = b"".join(bytes(block) for block in copy)
    finally:
        cursor.close()
    if not data:
        return pl.DataFrame(schema=schema)
    # CSV keeps NULL (an empty field) apart from '' (a quoted empty field)
    return pl.read_csv(data, has_header=False, schema=schema, quote_char='"')


def _packed_frame(conn: sa.Connection, statement: sa.Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
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
    count, data = _raw_rows(conn, packed)[0]
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
    return text_frame(_raw_rows(conn, statement), schema)


def _agg_text(postgres: bool, value: sa.ColumnElement, order: sa.ColumnElement) -> sa.ColumnElement:
    """Values of a group joined with "|" in the order they were added (NULLs skipped).

    SQLite's group_concat follows the index walk, which is profile id then row id."""
    if postgres:
        return sa.func.string_agg(value, aggregate_order_by(sa.literal_column("'|'"), order))
    return sa.func.group_concat(value, MULTI_VALUE_SEPARATOR)


def _profile_text(postgres: bool, column: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """A profile column as the text the file shows (dates ISO, datetimes UTC, no micros)."""
    if key in _DATETIME_COLUMNS:
        if postgres:
            return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 19)  # stored as UTC text
    if key in _DATE_COLUMNS:
        if postgres:
            return sa.func.to_char(column, "YYYY-MM-DD")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 10)
    return sa.type_coerce(column, sa.String())


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RAW = "__raw:"
_LEFT_TO_POLARS = "\x1d"


def _sqlite_attribute(attributes: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """A custom field's value as the text polars' json_path_match gives (a string, a whole
    number, true/false; NULL when missing or null); anything else (decimals, lists, objects,
    JSON SQLite cannot read) is _LEFT_TO_POLARS. SQLite parses the JSON once a row."""
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
            "text": sa.case((odd, sa.literal(_LEFT_TO_POLARS)), else_=sa.type_coerce(value, sa.String)),
            "integer": sa.case(
                (sa.func.typeof(value) == "integer", sa.cast(value, sa.Text)), else_=sa.literal(_LEFT_TO_POLARS)
            ),
            "true": sa.literal("true"),
            "false": sa.literal("false"),
            "null": sa.null(),
        },
        value=kind,
        else_=sa.case((kind.is_(None), sa.null()), else_=sa.literal(_LEFT_TO_POLARS)),
    )
    return sa.case((sa.func.json_valid(attributes) == 1, by_kind), else_=sa.literal(_LEFT_TO_POLARS))


def _decrypt(rows: Sequence[tuple]) -> list[tuple[int, str, str | None]]:
    """(profile id, kind, plain value) for identities stored encrypted.

    A value that cannot be decrypted (a key rotated away, a damaged value) leaves its cell
    empty, never the hash: one such value must not stop the export.
    """
    out = []
    for profile_id, kind, encrypted, key_id in rows:
        try:
            out.append((profile_id, kind, decrypt_identity_value(encrypted, key_id)))
        except (IdentityCryptoError, EncryptionKeyError):
            continue
    return out


class _ChunkReader:
    """The export's profiles, chunk by chunk (keyset on id), as frames of text cells named
    by column key. Per chunk: one query for the profiles (the filter's WHERE) and one
    grouped query per related table (identities, tags, segments, groups), joined on id.

    Large exports on PostgreSQL (a first chunk that is full) read the related tables of the
    next chunks on RELATED_READERS worker threads with their own connections while this
    thread reads profiles and the caller writes: the server does the queries and polars
    releases the GIL, so the cores all work. Those connections see committed data, which is
    all a large export (a background job, the CLI) reads; a small export stays on the
    caller's connection and sees its transaction. On SQLite one worker thread reads them
    through a _SqliteHelper process: two SQLite connections working at once in one process
    cost 1.5-2.5x the CPU for the same queries (1M profiles: 20-30 s of CPU instead of
    14-17 s) and were no faster; in two processes they run side by side.
    """

    def __init__(self, session: Session, flt: ProfileFilter, columns: list[ExportColumn], chunk_rows: int) -> None:
        self.session = session
        self.conn = session.connection()
        self.postgres = _is_postgres(session)
        self.readers = RELATED_READERS if self.postgres else min(RELATED_READERS, 1) if _sqlite_file(session) else 0
        self.where = filter_condition(flt)
        self.columns = columns
        self.chunk_rows = chunk_rows
        self.profile_cols = list(dict.fromkeys(c.ref for c in columns if c.source == "profile" and c.ref != "id"))
        self.attributes = [c for c in columns if c.source == "attribute"]
        # SQLite reads a custom field's value from the JSON itself (it parses it once a row
        # however many fields); polars does it from the JSON text for odd keys and on
        # PostgreSQL, whose `json` column is parsed again by every -> / ->> / json_typeof:
        # reading two fields there nearly tripled the server time of the profile query (a
        # 50,000-row chunk: 680 ms instead of 245 ms), more than polars spends instead
        # (1M profiles: ~3.5 s of client CPU; machine CPU 45.7 s -> 42.3 s in all)
        self.sql_attributes = [] if self.postgres else [c for c in self.attributes if _SIMPLE_KEY.fullmatch(c.ref)]
        self.kinds = [c.ref for c in columns if c.source == "identity"]
        self.tag_ids = [int(c.ref) for c in columns if c.source == "tag"]
        self.sources = {c.source for c in columns}
        self.has_related = bool(self.kinds or self.tag_ids or {SEGMENTS_COLUMN, GROUPS_COLUMN} & self.sources)

    def chunks(self) -> Iterator[pl.DataFrame]:
        """Frames with one text column per export column key; at least one (maybe empty)."""
        pool: _RelatedPool | None = None
        pending: deque[tuple[pl.DataFrame, Any]] = deque()
        try:
            for frame, full in self._profile_chunks():
                ids = frame["id"].to_list()
                if pool is None and full and self.has_related and self.readers > 0:
                    bind = self.session.get_bind()
                    if isinstance(bind, sa.Engine):
                        pool = _RelatedPool(bind, self, self.readers)
                if not ids or not self.has_related:
                    related = None
                elif pool is not None:
                    related = pool.submit(ids)
                else:
                    related = _Ready(self.related(self.conn, ids))
                pending.append((frame, related))
                while len(pending) > self.readers + 1:
                    yield self._assemble(*pending.popleft())
            while pending:
                yield self._assemble(*pending.popleft())
        finally:
            if pool is not None:
                pool.close()

    def _profile_chunks(self) -> Iterator[tuple[pl.DataFrame, bool]]:
        """(profile cells, whether the chunk was full) in id order; at least one frame."""
        table = Profile.__table__
        selected = [table.c.id, *[_profile_text(self.postgres, table.c[k], k).label(k) for k in self.profile_cols]]
        selected += [_sqlite_attribute(table.c.attributes, c.ref).label(_RAW + c.key) for c in self.sql_attributes]
        json_text = len(self.sql_attributes) < len(self.attributes)
        if json_text:
            selected.append(sa.cast(table.c.attributes, sa.Text).label("__attributes"))
        schema = {
            "id": pl.Int64(),
            **{k: pl.String() for k in self.profile_cols},
            **{_RAW + c.key: pl.String() for c in self.sql_attributes},
        }
        if json_text:
            schema["__attributes"] = pl.String()
        last_id, first = 0, True
        while True:
            query = (
                select(*selected).where(self.where, table.c.id > last_id).order_by(table.c.id).limit(self.chunk_rows)
            )
            if not self.postgres:
                # walk the rowid in order: an index led by status would sort the whole match
                # again for every chunk
                query = query.with_hint(Profile, "NOT INDEXED", "sqlite")
            frame = _read_frame(self.conn, self.postgres, query, schema)
            if not frame.height and not first:
                return
            first = False
            if not frame["id"].is_sorted():
                frame = frame.sort("id")
            last = frame["id"].max()
            if self.attributes:
                frame = self._with_attributes(frame)
            full = frame.height == self.chunk_rows
            yield frame, full
            if not full:
                return
            last_id = last

    def _assemble(self, frame: pl.DataFrame, related: Any) -> pl.DataFrame:
        if related is not None:
            for part in related.result():
                frame = frame.join(part, on="id", how="left")
        return frame.select(
            [
                (pl.col(c.key) if c.key in frame.columns else pl.lit(None)).cast(pl.String).alias(c.key)
                for c in self.columns
            ]
        )

    def _with_attributes(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The custom fields' cells; values SQLite left to polars (_LEFT_TO_POLARS) are read
        from the chunk's JSON text, fetched again for them."""
        raws = {c.key: self._json_value(c) for c in self.attributes}
        left = [c for c in self.sql_attributes if frame[_RAW + c.key].eq(_LEFT_TO_POLARS).any()]
        if left and "__attributes" not in frame.columns:
            frame = frame.join(self._json_texts(frame), on="id", how="left")
        for c in self.sql_attributes:
            raws[c.key] = pl.col(_RAW + c.key)
            if c in left:
                raws[c.key] = pl.when(raws[c.key] == _LEFT_TO_POLARS).then(self._json_value(c)).otherwise(raws[c.key])
        frame = frame.with_columns([self._attribute(c, raws[c.key]) for c in self.attributes])
        return frame.drop([n for n in frame.columns if n == "__attributes" or n.startswith(_RAW)])

    def _json_texts(self, frame: pl.DataFrame) -> pl.DataFrame:
        table = Profile.__table__
        ids = frame["id"]
        query = select(table.c.id, sa.cast(table.c.attributes, sa.Text)).where(
            self.where, table.c.id.between(ids.min(), ids.max())
        )
        return text_frame(_raw_rows(self.conn, query), {"id": pl.Int64(), "__attributes": pl.String()})

    @staticmethod
    def _json_value(column: ExportColumn) -> pl.Expr:
        return pl.col("__attributes").str.json_path_match(f"$.{column.ref}")

    @staticmethod
    def _attribute(column: ExportColumn, raw: pl.Expr) -> pl.Expr:
        raw = pl.when(raw == "null").then(None).otherwise(raw)  # a JSON null: no value
        if column.value_type == "list":
            raw = (
                pl.when(raw.str.starts_with("["))
                .then(raw.str.json_decode(pl.List(pl.String)).list.join(MULTI_VALUE_SEPARATOR))
                .otherwise(raw)
            )
        elif column.value_type == "boolean":
            raw = raw.replace({"true": "Yes", "false": "No"})
        return raw.alias(column.key)

    # ---- related tables: plain functions of a connection, so worker threads can run them
    def related(self, conn: sa.Connection, ids: list[int]) -> list[pl.DataFrame]:
        """Frames keyed by "id" with the chunk's identity, tag, segment and group cells."""
        parts = []
        if self.kinds:
            parts.append(self._identities(conn, ids))
        if self.tag_ids:
            parts.append(self._tags(conn, ids))
        if SEGMENTS_COLUMN in self.sources:
            parts.append(self._segments(conn, ids))
        if GROUPS_COLUMN in self.sources:
            parts.append(self._groups(conn, ids))
        return parts

    @staticmethod
    def _ids(column: sa.ColumnElement, ids: list[int]) -> list[sa.ColumnElement]:
        """The chunk's ids as a condition: a range when dense (one index range), else lists."""
        if ids[-1] - ids[0] + 1 <= 4 * len(ids):
            return [column.between(ids[0], ids[-1])]
        return [column.in_(ids[start : start + 5000]) for start in range(0, len(ids), 5000)]

    def _grouped(
        self,
        conn: sa.Connection,
        ids: list[int],
        build: Callable[[sa.ColumnElement], sa.Select],
        column: sa.ColumnElement,
        names: list[str],
    ) -> pl.DataFrame:
        schema = {"id": pl.Int64(), **{n: pl.String() for n in names}}
        frames = [_read_frame(conn, self.postgres, build(condition), schema) for condition in self._ids(column, ids)]
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def _identities(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        i = Identity.__table__.c
        names = [IDENTITY_PREFIX + k for k in self.kinds]
        plain = sa.not_(i.is_encrypted)
        frame = self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(
                    i.profile_id,
                    *[
                        _agg_text(self.postgres, sa.case((sa.and_(i.kind == k, plain), i.value)), i.id)
                        for k in self.kinds
                    ],
                    sa.func.max(sa.case((i.is_encrypted, 1), else_=0)),
                )
                .where(cond)
                .group_by(i.profile_id)
            ),
            i.profile_id,
            [*names, "__encrypted"],
        )
        if frame["__encrypted"].cast(pl.Int64, strict=False).fill_null(0).max() or 0:
            frame = self._with_decrypted(conn, frame, ids)
        return frame.drop("__encrypted")

    def _with_decrypted(self, conn: sa.Connection, frame: pl.DataFrame, ids: list[int]) -> pl.DataFrame:
        i = Identity.__table__.c
        rows: list[tuple] = []
        for condition in self._ids(i.profile_id, ids):
            rows.extend(
                _raw_rows(
                    conn,
                    sa.select(i.profile_id, i.kind, i.value_encrypted, i.key_id)
                    .where(condition, i.is_encrypted, i.kind.in_(self.kinds))
                    .order_by(i.profile_id, i.id),
                )
            )
        plain = text_frame(_decrypt(rows), {"id": pl.Int64(), "kind": pl.String(), "value": pl.String()})
        for kind in self.kinds:
            name = IDENTITY_PREFIX + kind
            values = (
                plain.filter(pl.col("kind") == kind)
                .group_by("id", maintain_order=True)
                .agg(pl.col("value").str.join(MULTI_VALUE_SEPARATOR).alias("__plain"))
            )
            frame = (
                frame.join(values, on="id", how="left")
                .with_columns(
                    pl.concat_str([name, "__plain"], separator=MULTI_VALUE_SEPARATOR, ignore_nulls=True).alias(name)
                )
                .drop("__plain")
            )
        return frame

    def _tags(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        t = ProfileTag.__table__.c
        cell = sa.case((sa.func.coalesce(t.value, "") == "", TAG_WITHOUT_VALUE), else_=t.value)
        names = [f"{TAG_PREFIX}{tag_id}" for tag_id in self.tag_ids]
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(
                    t.profile_id,
                    *[_agg_text(self.postgres, sa.case((t.tag_id == tag_id, cell)), t.id) for tag_id in self.tag_ids],
                )
                .where(cond)
                .group_by(t.profile_id)
            ),
            t.profile_id,
            names,
        )

    def _segments(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        m, s = SegmentMember.__table__.c, Segment.__table__.c
        cell = sa.case((sa.func.coalesce(m.value, "") == "", s.name), else_=s.name + ": " + m.value)
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(m.profile_id, _agg_text(self.postgres, cell, s.name))
                .select_from(SegmentMember.__table__.join(Segment.__table__, s.id == m.segment_id))
                .where(cond)
                .group_by(m.profile_id)
            ),
            m.profile_id,
            [SEGMENTS_COLUMN],
        )

    def _groups(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        m, g = GroupMembership.__table__.c, Group.__table__.c
        cell = g.name + " (" + m.state + ")"
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(m.profile_id, _agg_text(self.postgres, cell, g.name))
                .select_from(GroupMembership.__table__.join(Group.__table__, g.id == m.group_id))
                .where(cond)
                .group_by(m.profile_id)
            ),
            m.profile_id,
            [GROUPS_COLUMN],
        )


class _Ready:
    """An already computed result, shaped like a Future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


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


class _SqliteHelper:
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

    def rows(self, statement: sa.Select) -> list[tuple]:
        compiled = statement.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = []
        for name in compiled.positiontup or []:
            value = compiled.params[name]
            process = compiled.binds[name].type.bind_processor(self.dialect)
            params.append(process(value) if process else value)
        try:
            pickle.dump((str(compiled), params), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
            ok, value = pickle.load(self.process.stdout)
        except (OSError, EOFError) as error:
            raise ExportError(f"The export's reader process stopped ({error})") from error
        if not ok:
            raise ExportError(f"The export's reader process failed: {value}")
        return value

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


class _RelatedPool:
    """Worker threads reading related tables, each on its own connection (kept for the
    export, closed at the end): a pooled connection on PostgreSQL, a _SqliteHelper on
    SQLite."""

    def __init__(self, engine: sa.Engine, reader: _ChunkReader, workers: int) -> None:
        self.engine, self.reader = engine, reader
        self.helpers = engine.dialect.name == "sqlite"
        self.local = threading.local()
        self.connections: list[sa.Connection | _SqliteHelper] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export-read")

    def _connection(self) -> sa.Connection | _SqliteHelper:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = _SqliteHelper(self.engine) if self.helpers else self.engine.connect()
            with self.lock:
                self.connections.append(conn)
        return conn

    def submit(self, ids: list[int]) -> Future:
        return self.executor.submit(lambda: self.reader.related(self._connection(), ids))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()


# ---------------------------------------------------------------- writing files
def _open_sink(fmt: str, path: Path, columns: list[ExportColumn], *, bom: bool, at_rest: bool) -> Any:
    headers = [c.header for c in columns]
    # a private file; encrypted (an unseekable stream zipfile writes with data descriptors)
    # when it stays under DATA_DIR and encryption is configured
    out = file_store.open_private(path, encrypt=None if at_rest else False)
    try:
        if fmt == "csv":
            return CsvSink(out, headers, bom=bom)
        if fmt == "zip":
            inner = Path(path.name.lstrip(".")).with_suffix("").with_suffix(".csv").name
            return ZipSink(out, inner, headers, bom=bom)
        return XlsxSink(
            out,
            headers,
            sheet_name="Profiles",
            number_columns=[i for i, c in enumerate(columns) if c.value_type == "number"],
        )
    except BaseException:
        out.close()
        raise


def write_profiles_file(
    *,
    session: Session,
    flt: ProfileFilter,
    columns: list[ExportColumn],
    fmt: str,
    out_path: Path | str,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
    bom: bool = True,
    at_rest: bool = False,
) -> int:
    """Stream the matching profiles into `out_path`; returns how many rows it holds.

    The file is private (0600). `at_rest`: it stays under DATA_DIR until it is downloaded
    (an export's file), so it is encrypted when encryption is configured; read it back
    with file_store.iter_plain. A file for the user's own path (the CLI) is plain.

    No permission check and no audit event: callers (export_to_file, export_profiles,
    the export job) do both. The file appears complete or not at all (written beside it
    under a temporary name, then renamed).
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format '{fmt}' (expected csv, xlsx or zip)")
    if not columns:
        raise ExportError("None of the chosen columns may be exported")
    out_path = Path(out_path)
    if at_rest:
        file_store.private_dir(out_path.parent)
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.part")
    total = 0
    try:
        sink = _open_sink(fmt, partial, columns, bom=bom, at_rest=at_rest)
        try:
            for chunk in _ChunkReader(session, flt, columns, chunk_rows).chunks():
                sink.write(chunk)
                total += chunk.height
        finally:
            sink.close()
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return total
