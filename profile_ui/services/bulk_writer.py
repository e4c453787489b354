"""Bulk writes of polars frames into the session's connection, in the caller's transaction.

Used by every path that writes many rows at once (imports, undo, segment files, re-keying
identities): no ORM object per row. It knows tables only through SQLModel's metadata, so
any service may use it.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from ..models.base import UTCDateTime
from ..models.duplicate import (
    COMPARED_IDENTITY_KINDS,
    COMPARED_PROFILE_FACTS,
    STALE_IDENTITY_INSERT_TRIGGER,
    STALE_PROFILE_UPDATE_TRIGGER,
)
from .name_fold import with_folded_attributes, with_folded_names

_SQLITE_CACHE_KIB = 256 * 1024

# SQLite triggers a bulk statement replaces by one set-based statement of the same effect
# (see BulkWriter._sqlite_triggers_off): the profile version count (migrations 0010, 0013)
# and the identities' sort keys on insert (0013). Their mere presence makes SQLite write
# row by row in two passes: 20,000 profile updates took 2.8 s with the version trigger and
# 1.4 s without; 59,500 identity inserts 2.1 s with the sort-key triggers, 0.6 s without
# (both including the set-based statement that replaces them).
_VERSION_TRIGGER = "profiles_count_version"
SORT_KEYS = {"email": "email_sort", "phone": "phone_sort"}  # identity kind -> profiles column
_SORT_KEY_INSERT_TRIGGERS = {kind: f"identities_{column}_insert" for kind, column in SORT_KEYS.items()}
# the duplicate check's stale marks (migration 0018): a profile whose compared facts a bulk
# statement may change is marked once, set-based, instead of by a trigger per row
_STALE_PROFILE_COLUMNS = {*COMPARED_PROFILE_FACTS, "status"}


class BulkWriter:
    """Bulk writes of polars frames, the fastest way each database takes them.

    SQLite: the driver's own `executemany` (no SQLAlchemy per-row overhead). PostgreSQL:
    COPY (CSV written by polars) straight into the table, or into a temporary table and
    then one set-based UPDATE / INSERT ... ON CONFLICT / DELETE. Everything runs on the
    session's connection, in the caller's transaction. Values are converted column by
    column from the table's SQLAlchemy types; JSON columns arrive as serialized text.
    """

    def __init__(self, session: Session) -> None:
        session.flush()  # pending ORM changes go first
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        raw = self.connection.connection.driver_connection
        assert raw is not None  # a session's connection is always open here
        self.raw: Any = raw  # sqlite3.Connection or psycopg.Connection
        if not self.postgres:
            # random inserts into big indexes (identities, provenance) thrash SQLite's
            # default 2 MB page cache; this connection may use more while it writes
            self.raw.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")

    def insert(self, table: str, frame: pl.DataFrame, *, skip_existing: bool = False) -> None:
        """INSERT the rows; `skip_existing`: leave out rows whose key the table already holds."""
        if frame.is_empty():
            return
        frame = self._to_db(table, frame)
        if self.postgres and not skip_existing:
            self._copy(table, frame)
            return
        on_conflict = "ON CONFLICT DO NOTHING" if skip_existing else ""
        if self.postgres or table != "identities" or "kind" not in frame.columns:
            self._insert_rows(table, frame, on_conflict)
            return
        statement = f"INSERT INTO {_q(table)} ({_cols(frame.columns)}) VALUES ({_marks(frame.width)}) {on_conflict}"
        kinds = [k for k in SORT_KEYS if k in set(frame["kind"].unique().to_list())]
        triggers = [*(_SORT_KEY_INSERT_TRIGGERS[k] for k in kinds), STALE_IDENTITY_INSERT_TRIGGER]
        with self._sqlite_triggers_off(triggers) as off:
            try:
                self.raw.executemany(statement, frame.iter_rows())
            finally:  # rows written before a failing one stay: their keys and marks too
                if off:
                    if kinds:
                        self._refresh_sort_keys(frame, kinds)
                    compared = frame.filter(pl.col("kind").is_in(list(COMPARED_IDENTITY_KINDS)))
                    self._mark_stale(compared["profile_id"])

    def upsert(self, table: str, frame: pl.DataFrame, *, conflict: Sequence[str], update: Sequence[str]) -> None:
        """INSERT, or where the `conflict` columns clash, set the `update` columns."""
        if frame.is_empty():
            return
        frame = self._to_db(table, frame)
        if "full_name" in update and "name_folded" in frame.columns:
            update = [*update, "name_folded"]
        if "attributes" in update and "attributes_folded" in frame.columns:
            update = [*update, "attributes_folded"]
        on_conflict = f"ON CONFLICT ({_cols(conflict)}) DO UPDATE SET " + ", ".join(
            f"{_q(c)} = excluded.{_q(c)}" for c in update
        )
        self._insert_rows(table, frame, on_conflict)

    def _insert_rows(self, table: str, frame: pl.DataFrame, on_conflict: str) -> None:
        """INSERT ... ON CONFLICT: from a temporary table on PostgreSQL, `executemany` on SQLite."""
        if self.postgres:
            temp = self._temp_copy(table, frame)
            self._run(
                f"INSERT INTO {_q(table)} ({_cols(frame.columns)}) "
                f"SELECT {_cols(frame.columns)} FROM {temp} {on_conflict}"
            )
            self._run(f"DROP TABLE {temp}")
            return
        self.raw.executemany(
            f"INSERT INTO {_q(table)} ({_cols(frame.columns)}) VALUES ({_marks(frame.width)}) {on_conflict}",
            frame.iter_rows(),
        )

    def update(self, table: str, frame: pl.DataFrame, *, key: Sequence[str], json_merge: Sequence[str] = ()) -> None:
        """Set every non-key column of the frame on the rows the key columns match.

        `json_merge` columns hold a JSON object whose keys are set into the stored object
        (the other keys stay), instead of replacing it.
        """
        if frame.is_empty():
            return
        frame = self._to_db(table, frame)
        if "attributes" in json_merge and "attributes_folded" in frame.columns:
            json_merge = [*json_merge, "attributes_folded"]  # the folded patch merges the same way
        values = [c for c in frame.columns if c not in key]
        if self.postgres:

            def value(c: str) -> str:
                if c == "attributes_folded":  # NULL on rows written before it existed
                    return f"(COALESCE(t.{_q(c)}::jsonb, '{{}}'::jsonb) || x.{_q(c)}::jsonb)::json"
                if c in json_merge:
                    return f"(t.{_q(c)}::jsonb || x.{_q(c)}::jsonb)::json"
                return f"x.{_q(c)}"

            temp = self._temp_copy(table, frame)
            self._run_keyed(
                f"UPDATE {_q(table)} AS t SET "
                + ", ".join(f"{_q(c)} = {value(c)}" for c in values)
                + f" FROM {temp} AS x WHERE "
                + " AND ".join(f"t.{_q(k)} = x.{_q(k)}" for k in key)
            )
            self._run(f"DROP TABLE {temp}")
            return
        counted = table == "profiles" and not {"version", *SORT_KEYS.values()} & set(frame.columns)
        facts = table == "profiles" and bool(_STALE_PROFILE_COLUMNS & set(values))
        triggers = [*([_VERSION_TRIGGER] if counted else []), *([STALE_PROFILE_UPDATE_TRIGGER] if facts else [])]
        with self._sqlite_triggers_off(triggers) as off:
            if off and facts:  # marked whether or not the values differ: a mark only costs a re-read
                self._mark_stale(frame["id"])
            # the version trigger counts each UPDATE of a profile once: with it off for this
            # statement, the statement counts (it sets no sort key, which the trigger skips)
            self.raw.executemany(
                f"UPDATE {_q(table)} SET "
                + ", ".join(
                    [
                        *(_sqlite_set(c, c in json_merge) for c in values),
                        *(['"version" = "version" + 1'] if off and counted else []),
                    ]
                )
                + " WHERE "
                + " AND ".join(f"{_q(k)} = ?" for k in key),
                frame.select(*values, *key).iter_rows(),
            )

    def write_provenance(
        self,
        pairs: pl.DataFrame,
        *,
        source_type: str,
        source_name: str | None,
        import_job_id: int | None,
        set_by: int | None,
        set_at: datetime,
    ) -> None:
        """Upsert one attribute_provenance row per (profile_id, field_key) pair, all from one
        source.

        An import can change hundreds of thousands of values. SQLite gets one row per
        profile with a bit per field, expanded by one INSERT ... SELECT inside the database,
        several times faster than binding every row from Python.
        """
        columns = ["source_type", "source_name", "import_job_id", "set_by", "set_at", "locked"]
        if self.postgres:
            self._write_provenance_postgres(
                pairs,
                columns,
                source_type=source_type,
                source_name=source_name,
                import_job_id=import_job_id,
                set_by=set_by,
                set_at=set_at,
            )
            return
        if pairs.is_empty():
            return
        stamp = set_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        keys = sorted(pairs["field_key"].unique().to_list())
        for start in range(0, len(keys), 60):  # 60 bits per signed 64-bit mask
            chunk = keys[start : start + 60]
            bits = {k: 1 << i for i, k in enumerate(chunk)}
            masks = (
                pairs.filter(pl.col("field_key").is_in(chunk))
                .group_by("profile_id")
                .agg(pl.col("field_key").replace_strict(bits, return_dtype=pl.Int64).sum().alias("mask"))
            )
            self.raw.execute("CREATE TEMP TABLE _prov_keys (bit INTEGER, field_key TEXT)")
            self.raw.execute("CREATE TEMP TABLE _prov_masks (profile_id INTEGER, mask INTEGER)")
            self.raw.executemany("INSERT INTO _prov_keys VALUES (?, ?)", [(b, k) for k, b in bits.items()])
            self.raw.executemany("INSERT INTO _prov_masks VALUES (?, ?)", masks.sort("profile_id").iter_rows())
            # rows come out in (profile_id, field_key) order, as both temp tables were filled
            self.raw.execute(
                "INSERT INTO attribute_provenance (profile_id, field_key, " + _cols(columns) + ") "
                "SELECT m.profile_id, k.field_key, ?, ?, ?, ?, ?, 0 FROM _prov_masks AS m "
                "JOIN _prov_keys AS k ON (m.mask & k.bit) != 0 WHERE true "
                "ON CONFLICT (profile_id, field_key) DO UPDATE SET "
                + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in columns),
                (source_type, source_name, import_job_id, set_by, stamp),
            )
            self.raw.execute("DROP TABLE _prov_keys")
            self.raw.execute("DROP TABLE _prov_masks")

    def _write_provenance_postgres(
        self,
        pairs: pl.DataFrame,
        columns: list[str],
        *,
        source_type: str,
        source_name: str | None,
        import_job_id: int | None,
        set_by: int | None,
        set_at: datetime,
    ) -> None:
        """PostgreSQL: pairs that have no provenance row yet (most of them) are COPied
        straight into the table; the others are updated in place by key.

        One INSERT ... ON CONFLICT of 360,000 pairs through a temporary table took 4.2 s;
        the existing pairs are found with one indexed query of the profiles' rows.
        """
        if pairs.is_empty():
            return
        ids = pairs["profile_id"].unique().sort().to_list()
        with self.raw.cursor() as cur:
            cur.execute("SELECT profile_id, field_key FROM attribute_provenance WHERE profile_id = ANY(%s)", (ids,))
            have = pl.DataFrame(cur.fetchall(), schema={"profile_id": pl.Int64, "field_key": pl.Utf8}, orient="row")
        pairs = pairs.select(pl.col("profile_id").cast(pl.Int64), pl.col("field_key").cast(pl.Utf8))
        # key order: index inserts stay on neighbouring pages
        rows = pairs.sort("profile_id", "field_key").with_columns(
            source_type=pl.lit(source_type),
            source_name=pl.lit(source_name, dtype=pl.Utf8),
            import_job_id=pl.lit(import_job_id, dtype=pl.Int64),
            set_by=pl.lit(set_by, dtype=pl.Int64),
            set_at=pl.lit(set_at),
            locked=pl.lit(False),
        )
        self.insert("attribute_provenance", rows.join(have, on=["profile_id", "field_key"], how="anti"))
        self.update(
            "attribute_provenance",
            rows.join(have, on=["profile_id", "field_key"], how="semi"),
            key=["profile_id", "field_key"],
        )

    def delete(self, table: str, frame: pl.DataFrame) -> None:
        """Delete the rows equal to a row of the frame on all of its columns."""
        if frame.is_empty():
            return
        frame = self._to_db(table, frame)
        if self.postgres:
            temp = self._temp_copy(table, frame)
            self._run_keyed(
                f"DELETE FROM {_q(table)} AS t USING {temp} AS x WHERE "
                + " AND ".join(f"t.{_q(c)} = x.{_q(c)}" for c in frame.columns)
            )
            self._run(f"DROP TABLE {temp}")
            return
        self.raw.executemany(
            f"DELETE FROM {_q(table)} WHERE " + " AND ".join(f"{_q(c)} = ?" for c in frame.columns), frame.iter_rows()
        )

    @contextlib.contextmanager
    def _sqlite_triggers_off(self, names: Sequence[str]) -> Iterator[bool]:
        """SQLite: the named triggers dropped for one bulk statement and created again from
        their stored SQL right after it, in the caller's transaction (SQLite's DDL is
        transactional: no other connection ever sees them gone, and a rollback brings them
        back). Yields whether any was dropped: the caller then does their work itself, set
        based. Outside a transaction (a DROP would commit on its own) nothing is dropped."""
        if not names or not self.raw.in_transaction:
            yield False
            return
        stored = self.raw.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({_marks(len(names))})",
            tuple(names),
        ).fetchall()
        for name, _sql in stored:
            self.raw.execute(f"DROP TRIGGER {_q(name)}")
        try:
            yield bool(stored)
        finally:
            for _name, sql in stored:
                self.raw.execute(sql)

    def _mark_stale(self, profile_ids: pl.Series) -> None:
        """SQLite: what migration 0018's stale triggers do, for all these profiles at once."""
        ids = profile_ids.drop_nulls().unique().sort().to_list()
        if ids:
            self.raw.execute(
                "INSERT OR REPLACE INTO dedupe_stale (profile_id, changed_at) "
                "SELECT value, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) FROM json_each(?)",
                (json.dumps(ids),),
            )

    def _refresh_sort_keys(self, identities: pl.DataFrame, kinds: Sequence[str]) -> None:
        """What the sort-key insert triggers of migration 0013 do, for all the rows at once:
        each profile's key is its first plain identity of the kind by id, written only where
        it changes (so the version trigger does not count it)."""
        ids = identities.filter(pl.col("kind").is_in(list(kinds)))["profile_id"].unique().sort()
        self.raw.execute("CREATE TEMP TABLE _sort_key_ids (id INTEGER PRIMARY KEY)")
        try:
            self.raw.executemany("INSERT INTO _sort_key_ids VALUES (?)", ((i,) for i in ids.to_list()))
            for kind in kinds:
                column = _q(SORT_KEYS[kind])
                key = (
                    "(SELECT i.value FROM identities AS i WHERE i.profile_id = profiles.id"
                    f" AND i.kind = '{kind}' AND NOT i.is_encrypted ORDER BY i.id LIMIT 1)"
                )
                self.raw.execute(
                    f"UPDATE profiles SET {column} = {key}"
                    f" WHERE id IN (SELECT id FROM _sort_key_ids) AND {column} IS NOT {key}"
                )
        finally:
            self.raw.execute("DROP TABLE _sort_key_ids")

    def _run(self, sql: str) -> None:
        with self.raw.cursor() as cur:
            cur.execute(sql)

    def _run_keyed(self, sql: str) -> None:
        """An UPDATE / DELETE that joins a temporary table to its target on a unique key.

        PostgreSQL's planner prefers a hash join, which reads the whole target: 20,000
        updates of a 1,000,000-profile table took 4.5 s that way and 2.4 s probing the
        key's index row by row (identities: 1.4-1.9 s against 0.8 s). The target's index
        is always the better path here, so the other joins are off for this statement.
        """
        with self.raw.cursor() as cur:
            cur.execute("SET LOCAL enable_hashjoin = off")
            cur.execute("SET LOCAL enable_mergejoin = off")
            try:
                cur.execute(sql)
            finally:
                cur.execute("SET LOCAL enable_hashjoin = on")
                cur.execute("SET LOCAL enable_mergejoin = on")

    def _copy(self, table: str, frame: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="\\N")
        statement = f"COPY {_q(table)} ({_cols(frame.columns)}) FROM STDIN (FORMAT csv, NULL '\\N')"
        with self.raw.cursor() as cur, cur.copy(statement) as copy:
            copy.write(buffer.getvalue())

    def _temp_copy(self, table: str, frame: pl.DataFrame) -> str:
        temp = f"_bulk_{uuid.uuid4().hex[:12]}"
        # the target's column types, none of its constraints; gone at commit at the latest
        self._run(
            f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {_cols(frame.columns)} FROM {_q(table)} WITH NO DATA"
        )
        self._copy(temp, frame)
        self._run(f"ANALYZE {temp}")  # temp tables have no statistics: the join plan needs its size
        return temp

    def _to_db(self, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Columns as the driver takes them: UTC datetimes and dates as text, SQLite booleans as 0/1.
        Profile rows that set full_name get their name_folded with it, and those that set
        attributes their attributes_folded."""
        if table == "profiles":
            frame = with_folded_attributes(with_folded_names(frame))
        columns = SQLModel.metadata.tables[table].c
        exprs = []
        for name, dtype in frame.schema.items():
            col_type = columns[name].type
            expr = pl.col(name)
            if isinstance(col_type, UTCDateTime | sa.DateTime) and isinstance(dtype, pl.Datetime):
                if dtype.time_zone is not None:
                    expr = expr.dt.convert_time_zone("UTC")
                expr = expr.dt.to_string("%Y-%m-%d %H:%M:%S%.6f")
                if self.postgres:
                    expr = expr + pl.lit("+00:00")
            elif isinstance(col_type, sa.Date) and dtype == pl.Date:
                expr = expr.dt.to_string("%Y-%m-%d")
            elif isinstance(col_type, sa.Boolean) and not self.postgres:
                expr = expr.cast(pl.Int8)
            elif dtype == pl.Null:
                expr = expr.cast(pl.Utf8)
            exprs.append(expr.alias(name))
        return frame.select(exprs)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cols(names: Sequence[str]) -> str:
    return ", ".join(_q(n) for n in names)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _sqlite_set(column: str, json_merge: bool) -> str:
    """One SET item of SQLite's UPDATE: the value, or a JSON patch merged into the stored object."""
    if not json_merge:
        return f"{_q(column)} = ?"
    stored = f"COALESCE({_q(column)}, '{{}}')" if column == "attributes_folded" else _q(column)  # NULL: written before
    return f"{_q(column)} = json_patch({stored}, ?)"
