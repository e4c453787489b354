"""An export's profiles, chunk by chunk: `ChunkReader` reads them in keyset chunks (by id),
joins in the related tables (identities, with encrypted values decrypted; tags; segments;
groups) by one grouped query each and yields frames of text cells named by column key,
ready for a sink of services/sheet_writer.py. Large exports read the related tables of the
next chunks on worker threads (`_RelatedPool`) while the caller writes.

The per-backend SQL and bulk reads are services/export_reading.py's; writing the file is
services/export_writer.py's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl
import sqlalchemy as sa
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
from .crypto import EncryptionKeyError, IdentityCryptoError, decrypt_identity_value
from .export_format import (
    GROUPS_COLUMN,
    IDENTITY_PREFIX,
    MULTI_VALUE_SEPARATOR,
    RELATED_READERS,
    SEGMENTS_COLUMN,
    TAG_PREFIX,
    TAG_WITHOUT_VALUE,
    ExportColumn,
)
from .export_reading import (
    LEFT_TO_POLARS,
    RAW_PREFIX,
    SIMPLE_KEY,
    ReadConnection,
    SqliteHelper,
    agg_text,
    is_postgres,
    is_sqlite_file,
    profile_text,
    raw_rows,
    read_frame,
    sqlite_attribute,
    table_of,
    text_frame,
)
from .profiles import ProfileFilter, filter_condition


def _decrypt(rows: Sequence[tuple]) -> list[tuple[int, str, str | None]]:
    """(profile id, kind, plain value) for identities stored encrypted.

    A value that cannot be decrypted (a key rotated away, a damaged value) leaves its cell
    empty, never the hash: one such value must not stop the export.
    """
    out: list[tuple[int, str, str | None]] = []
    for profile_id, kind, encrypted, key_id in rows:
        try:
            out.append((profile_id, kind, decrypt_identity_value(encrypted, key_id)))
        except (IdentityCryptoError, EncryptionKeyError):
            continue
    return out


class ChunkReader:
    """The export's profiles, chunk by chunk (keyset on id), as frames of text cells named
    by column key. Per chunk: one query for the profiles (the filter's WHERE) and one
    grouped query per related table (identities, tags, segments, groups), joined on id.

    Large exports on PostgreSQL (a first chunk that is full) read the related tables of the
    next chunks on RELATED_READERS worker threads with their own connections while this
    thread reads profiles and the caller writes: the server does the queries and polars
    releases the GIL, so the cores all work. Those connections see committed data, which is
    all a large export (a background job, the CLI) reads; a small export stays on the
    caller's connection and sees its transaction. On SQLite one worker thread reads them
    through a SqliteHelper process: two SQLite connections working at once in one process
    cost 1.5-2.5x the CPU for the same queries (1M profiles: 20-30 s of CPU instead of
    14-17 s) and were no faster; in two processes they run side by side.
    """

    def __init__(self, session: Session, flt: ProfileFilter, columns: list[ExportColumn], chunk_rows: int) -> None:
        self.session = session
        self.conn = session.connection()
        self.postgres = is_postgres(session)
        self.readers = RELATED_READERS if self.postgres else min(RELATED_READERS, 1) if is_sqlite_file(session) else 0
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
        self.sql_attributes = [] if self.postgres else [c for c in self.attributes if SIMPLE_KEY.fullmatch(c.ref)]
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
                related: Future[list[pl.DataFrame]] | _Ready | None
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
        table = table_of(Profile)
        selected = [table.c.id, *[profile_text(self.postgres, table.c[k], k).label(k) for k in self.profile_cols]]
        selected += [sqlite_attribute(table.c.attributes, c.ref).label(RAW_PREFIX + c.key) for c in self.sql_attributes]
        json_text = len(self.sql_attributes) < len(self.attributes)
        if json_text:
            selected.append(sa.cast(table.c.attributes, sa.Text).label("__attributes"))
        schema = {
            "id": pl.Int64(),
            **{k: pl.String() for k in self.profile_cols},
            **{RAW_PREFIX + c.key: pl.String() for c in self.sql_attributes},
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
            frame = read_frame(self.conn, self.postgres, query, schema)
            if not frame.height and not first:
                return
            first = False
            if not frame["id"].is_sorted():
                frame = frame.sort("id")
            last = int(frame["id"][-1]) if frame.height else last_id  # sorted by id
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
        """The custom fields' cells; values SQLite left to polars (LEFT_TO_POLARS) are read
        from the chunk's JSON text, fetched again for them."""
        raws = {c.key: self._json_value(c) for c in self.attributes}
        left = [c for c in self.sql_attributes if frame[RAW_PREFIX + c.key].eq(LEFT_TO_POLARS).any()]
        if left and "__attributes" not in frame.columns:
            frame = frame.join(self._json_texts(frame), on="id", how="left")
        for c in self.sql_attributes:
            raws[c.key] = pl.col(RAW_PREFIX + c.key)
            if c in left:
                raws[c.key] = pl.when(raws[c.key] == LEFT_TO_POLARS).then(self._json_value(c)).otherwise(raws[c.key])
        frame = frame.with_columns([self._attribute(c, raws[c.key]) for c in self.attributes])
        return frame.drop([n for n in frame.columns if n == "__attributes" or n.startswith(RAW_PREFIX)])

    def _json_texts(self, frame: pl.DataFrame) -> pl.DataFrame:
        table = table_of(Profile)
        ids = frame["id"]
        query = select(table.c.id, sa.cast(table.c.attributes, sa.Text)).where(
            self.where, table.c.id.between(ids.min(), ids.max())
        )
        return text_frame(raw_rows(self.conn, query), {"id": pl.Int64(), "__attributes": pl.String()})

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
    def related(self, conn: ReadConnection, ids: list[int]) -> list[pl.DataFrame]:
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
        conn: ReadConnection,
        ids: list[int],
        build: Callable[[sa.ColumnElement], sa.Select],
        column: sa.ColumnElement,
        names: list[str],
    ) -> pl.DataFrame:
        schema = {"id": pl.Int64(), **{n: pl.String() for n in names}}
        frames = [read_frame(conn, self.postgres, build(condition), schema) for condition in self._ids(column, ids)]
        return frames[0] if len(frames) == 1 else pl.concat(frames)

    def _identities(self, conn: ReadConnection, ids: list[int]) -> pl.DataFrame:
        i = table_of(Identity).c
        names = [IDENTITY_PREFIX + k for k in self.kinds]
        plain = sa.not_(i.is_encrypted)
        frame = self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(
                    i.profile_id,
                    *[
                        agg_text(self.postgres, sa.case((sa.and_(i.kind == k, plain), i.value)), i.id)
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

    def _with_decrypted(self, conn: ReadConnection, frame: pl.DataFrame, ids: list[int]) -> pl.DataFrame:
        i = table_of(Identity).c
        rows: list[tuple] = []
        for condition in self._ids(i.profile_id, ids):
            rows.extend(
                raw_rows(
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

    def _tags(self, conn: ReadConnection, ids: list[int]) -> pl.DataFrame:
        t = table_of(ProfileTag).c
        cell = sa.case((sa.func.coalesce(t.value, "") == "", TAG_WITHOUT_VALUE), else_=t.value)
        names = [f"{TAG_PREFIX}{tag_id}" for tag_id in self.tag_ids]
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(
                    t.profile_id,
                    *[agg_text(self.postgres, sa.case((t.tag_id == tag_id, cell)), t.id) for tag_id in self.tag_ids],
                )
                .where(cond)
                .group_by(t.profile_id)
            ),
            t.profile_id,
            names,
        )

    def _segments(self, conn: ReadConnection, ids: list[int]) -> pl.DataFrame:
        m, s = table_of(SegmentMember).c, table_of(Segment).c
        cell = sa.case((sa.func.coalesce(m.value, "") == "", s.name), else_=s.name + ": " + m.value)
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(m.profile_id, agg_text(self.postgres, cell, s.name))
                .select_from(table_of(SegmentMember).join(table_of(Segment), s.id == m.segment_id))
                .where(cond)
                .group_by(m.profile_id)
            ),
            m.profile_id,
            [SEGMENTS_COLUMN],
        )

    def _groups(self, conn: ReadConnection, ids: list[int]) -> pl.DataFrame:
        m, g = table_of(GroupMembership).c, table_of(Group).c
        cell = g.name + " (" + m.state + ")"
        return self._grouped(
            conn,
            ids,
            lambda cond: (
                sa.select(m.profile_id, agg_text(self.postgres, cell, g.name))
                .select_from(table_of(GroupMembership).join(table_of(Group), g.id == m.group_id))
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


class _RelatedPool:
    """Worker threads reading related tables, each on its own connection (kept for the
    export, closed at the end): a pooled connection on PostgreSQL, a SqliteHelper on
    SQLite."""

    def __init__(self, engine: sa.Engine, reader: ChunkReader, workers: int) -> None:
        self.engine, self.reader = engine, reader
        self.helpers = engine.dialect.name == "sqlite"
        self.local = threading.local()
        self.connections: list[sa.Connection | SqliteHelper] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export-read")

    def _connection(self) -> sa.Connection | SqliteHelper:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = SqliteHelper(self.engine) if self.helpers else self.engine.connect()
            with self.lock:
                self.connections.append(conn)
        return conn

    def submit(self, ids: list[int]) -> Future:
        return self.executor.submit(lambda: self.reader.related(self._connection(), ids))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()
