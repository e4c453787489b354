"""Writing generated chunks with each driver's fastest path: sqlite3 `executemany` on
SQLite, `COPY` on PostgreSQL, in one transaction under a write lock. Ids are handed out from
max(id) + 1 under that lock, so seeding a database that already holds data appends to it;
plain indexes are dropped and rebuilt around a load bigger than the tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from typing import Any, ClassVar

import numpy as np
import polars as pl
from sqlalchemy.engine import Engine

from ..models.duplicate import STALE_IDENTITY_INSERT_TRIGGER
from ..settings import get_settings
from .generate import SeedCatalog, TableRows, generate_chunk

Echo = Callable[[str], Any]
CHUNK_PROFILES = 100_000


SERIAL_TABLES = ("profiles", "identities", "profile_tags", "linked_objects")
LOADED_TABLES = (
    "profiles",
    "identities",
    "profile_tags",
    "segment_members",
    "group_memberships",
    "consents",
    "linked_objects",
)
SEED_IDENTITY_KINDS = ("user_id", "email", "phone")


class _Loader:
    """Generates chunks and writes them in one transaction under a write lock.

    When the load is bigger than what the tables hold, their plain (non-unique) indexes
    are dropped first and rebuilt at the end: building an index from sorted data is much
    cheaper than a million random B-tree inserts. Unique indexes stay, so the database
    keeps refusing a duplicate identity.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(
        self,
        *,
        profiles: int,
        existing_profiles: int,
        random_seed: int,
        catalog: SeedCatalog,
        echo: Echo,
        started: float,
    ) -> dict[str, int]:
        encrypted = set(get_settings().encrypted_identity_kinds) & set(SEED_IDENTITY_KINDS)
        if encrypted:
            # their values must go through the crypto service, which bulk seeding bypasses
            echo(f"note: identity kinds stored encrypted are not seeded: {', '.join(sorted(encrypted))}")
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            if conn is None:
                raise RuntimeError("the database connection for the seed is closed")
            self.begin(conn)
            try:
                next_ids = {t: self.max_id(conn, t) + 1 for t in SERIAL_TABLES}
                taken = self.taken_identities(conn)
                rebuild = self.drop_for_load(conn) if profiles > existing_profiles else []
                rows = dict.fromkeys(LOADED_TABLES, 0)
                now = datetime.now(UTC)

                def make_chunk(chunk_no: int) -> tuple[int, list[tuple[str, int, Any]]]:
                    """Generate and encode one chunk (runs beside the writes of the last one)."""
                    first = chunk_no * CHUNK_PROFILES
                    n = min(CHUNK_PROFILES, profiles - first)
                    rng = np.random.default_rng([random_seed, chunk_no])
                    parts = generate_chunk(
                        rng=rng,
                        first_id=next_ids["profiles"],
                        n=n,
                        now=now,
                        catalog=catalog,
                        next_ids=next_ids,
                        taken_identities=taken,
                        time_slice=(first / profiles, (first + n) / profiles),
                    )
                    next_ids["profiles"] += n
                    encoded = []
                    for part in parts:
                        if part.table == "identities" and encrypted:
                            part.frame = part.frame.filter(~pl.col("kind").is_in(sorted(encrypted)))
                        if part.frame.height:
                            encoded.append((part.table, part.frame.height, self.encode(part)))
                    return first + n, encoded

                chunks = -(-profiles // CHUNK_PROFILES)
                # one thread generates chunk k+1 while this one writes chunk k: polars,
                # the driver's B-tree work and PostgreSQL's all run without the GIL
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed") as pool:
                    pending = pool.submit(make_chunk, 0)
                    for chunk_no in range(chunks):
                        done, encoded = pending.result()
                        if chunk_no + 1 < chunks:
                            pending = pool.submit(make_chunk, chunk_no + 1)
                        for table, height, payload in encoded:
                            self.write(conn, payload)
                            rows[table] += height
                        echo(f"  {done:>12,} / {profiles:,} profiles  ({time.perf_counter() - started:.1f} s)")
                if rebuild:
                    echo(f"  rebuilding indexes and constraints  ({time.perf_counter() - started:.1f} s)")
                    for statement in rebuild:
                        self.execute(conn, statement)
                self.finish(conn, next_ids)
                echo(f"  committing  ({time.perf_counter() - started:.1f} s)")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                self.restore(conn)
        finally:
            raw.close()
        return rows

    @staticmethod
    def execute(conn: Any, statement: str, params: tuple = ()) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
        finally:
            cur.close()

    def taken_identities(self, conn: Any) -> pl.DataFrame | None:
        rows = self.execute(conn, "SELECT kind, value FROM identities WHERE kind IN ('user_id', 'email', 'phone')")
        if not rows:
            return None
        return pl.DataFrame(rows, schema={"kind": pl.String, "value": pl.String}, orient="row")

    def max_id(self, conn: Any, table: str) -> int:
        return int(self.execute(conn, f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0])

    def drop_for_load(self, conn: Any) -> list[str]:
        """Drop the non-unique indexes of the loaded tables; return what rebuilds them."""
        statements = []
        for name, sql in self.plain_indexes(conn):
            self.execute(conn, f'DROP INDEX "{name}"')
            statements.append(sql)
        return statements

    # backend hooks
    def begin(self, conn: Any) -> None: ...
    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]:
        raise NotImplementedError

    def encode(self, rows: TableRows) -> Any:
        raise NotImplementedError

    def write(self, conn: Any, payload: Any) -> None: ...
    def finish(self, conn: Any, next_ids: dict[str, int]) -> None: ...
    def restore(self, conn: Any) -> None: ...


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


SQLITE_ROWS_PER_INSERT = 200
SQLITE_MAX_PARAMETERS = 32_000  # SQLite >= 3.32 allows 32,766 per statement


class SqliteLoader(_Loader):
    """sqlite3 executemany in big batches; datetimes as SQLAlchemy's SQLite text format."""

    # for the load only, then set back: generated rows are consistent, so skip per-row FK
    # lookups; a large page cache keeps the B-trees being filled in memory; index
    # rebuilds sort in memory with a helper thread
    LOAD_PRAGMAS: ClassVar[dict[str, int]] = {
        "foreign_keys": 0,
        "cache_size": -1_000_000,
        "temp_store": 2,
        "threads": 2,
    }

    def begin(self, conn: Any) -> None:
        self.saved_pragmas = {name: self.execute(conn, f"PRAGMA {name}")[0][0] for name in self.LOAD_PRAGMAS}
        for name, value in self.LOAD_PRAGMAS.items():
            self.execute(conn, f"PRAGMA {name}={value}")
        # A rollback journal writes the new pages once, where WAL writes them twice (log,
        # then checkpoint). SQLite only allows the switch when no other connection has
        # the file open (a running app keeps it in WAL, and the load still works).
        self.saved_journal = self.execute(conn, "PRAGMA journal_mode")[0][0]
        if self.saved_journal == "wal":
            self.execute(conn, "PRAGMA journal_mode=DELETE")
        try:
            self.execute(conn, "BEGIN IMMEDIATE")  # the write lock: nobody takes our ids meanwhile
        except BaseException:
            self.restore(conn)  # the pooled connection goes back as it came
            raise

    def drop_for_load(self, conn: Any) -> list[str]:
        """Also drop the duplicate check's stale-mark trigger on identity inserts (migration
        0018): seeded profiles are new, with no kept integers to make stale, and a trigger
        per row costs as much as the row."""
        triggers = self.execute(
            conn,
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (STALE_IDENTITY_INSERT_TRIGGER,),
        )
        for name, _sql in triggers:
            self.execute(conn, f'DROP TRIGGER "{name}"')
        return [*super().drop_for_load(conn), *(sql for _name, sql in triggers)]

    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]:
        marks = ", ".join("?" * len(LOADED_TABLES))
        rows = self.execute(
            conn,
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            LOADED_TABLES,
        )
        return [(name, sql) for name, sql in rows if not sql.upper().startswith("CREATE UNIQUE")]

    def encode(self, rows: TableRows) -> tuple[str, list[list], str | None, list]:
        """The INSERT statements and their parameters; datetimes as SQLAlchemy stores them."""
        frame = rows.frame.with_columns(
            pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
            pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        )
        columns = ", ".join([*frame.columns, *rows.constants])
        one_row = "(" + ", ".join(["?"] * frame.width + [_sql_literal(v) for v in rows.constants.values()]) + ")"
        # many rows per INSERT (about 40% less CPU than one per statement), parameters
        # flattened row by row from the column lists (much cheaper than iter_rows())
        per_statement = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_PARAMETERS // frame.width))
        flat = list(chain.from_iterable(zip(*(c.to_list() for c in frame.get_columns()), strict=True)))
        step = per_statement * frame.width
        full = frame.height // per_statement * step
        insert = f"INSERT INTO {rows.table} ({columns}) VALUES "
        batches = [flat[i : i + step] for i in range(0, full, step)]
        rest = (len(flat) - full) // frame.width
        return (
            insert + ", ".join([one_row] * per_statement),
            batches,
            insert + ", ".join([one_row] * rest) if rest else None,
            flat[full:],
        )

    def write(self, conn: Any, payload: tuple[str, list[list], str | None, list]) -> None:
        statement, batches, rest_statement, rest = payload
        if batches:
            conn.executemany(statement, batches)
        if rest_statement:
            conn.execute(rest_statement, rest)

    def restore(self, conn: Any) -> None:
        for name, value in self.saved_pragmas.items():
            self.execute(conn, f"PRAGMA {name}={value}")
        if self.execute(conn, "PRAGMA journal_mode")[0][0] != self.saved_journal:
            self.execute(conn, f"PRAGMA journal_mode={self.saved_journal}")


class PostgresLoader(_Loader):
    """COPY … FROM STDIN (CSV) per table and chunk; sequences moved past the new ids."""

    def begin(self, conn: Any) -> None:
        self.execute(conn, f"LOCK TABLE {', '.join(SERIAL_TABLES)} IN EXCLUSIVE MODE")

    def max_id(self, conn: Any, table: str) -> int:
        # also past the sequence, so ids it handed out (even rolled back) stay unused
        last_given = (
            f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {self._sequence(conn, table)}"
        )
        return int(self.execute(conn, f"SELECT GREATEST(COALESCE(MAX(id), 0), ({last_given})) FROM {table}")[0][0])

    def _sequence(self, conn: Any, table: str) -> str:
        return self.execute(conn, "SELECT pg_get_serial_sequence(%s, 'id')", (table,))[0][0]

    def drop_for_load(self, conn: Any) -> list[str]:
        """Also drop the foreign keys of the loaded tables: a per-row check trigger costs as
        much as the row itself, while re-adding the constraint checks all rows in one join."""
        self.execute(conn, "SET LOCAL maintenance_work_mem = '256MB'")
        foreign_keys = self.execute(
            conn,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            (list(LOADED_TABLES),),
        )
        for table, name, _definition in foreign_keys:
            self.execute(conn, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        # seeded profiles are new: no kept integers of theirs to mark stale (migration 0018)
        marking = self.execute(
            conn,
            "SELECT count(*) FROM pg_trigger WHERE tgname = %s AND tgrelid = 'identities'::regclass",
            (STALE_IDENTITY_INSERT_TRIGGER,),
        )[0][0]
        if marking:
            self.execute(conn, f"ALTER TABLE identities DISABLE TRIGGER {STALE_IDENTITY_INSERT_TRIGGER}")
        return [
            *([f"ALTER TABLE identities ENABLE TRIGGER {STALE_IDENTITY_INSERT_TRIGGER}"] if marking else []),
            *super().drop_for_load(conn),
            *(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in foreign_keys),
        ]

    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]:
        rows = self.execute(
            conn,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(%s)",
            (list(LOADED_TABLES),),
        )
        return [(name, sql) for name, sql in rows if not sql.upper().startswith("CREATE UNIQUE")]

    def encode(self, rows: TableRows) -> tuple[str, bytes]:
        frame = rows.frame.with_columns(pl.lit(v).alias(k) for k, v in rows.constants.items())
        data = frame.write_csv(
            include_header=False, null_value="\\N", datetime_format="%Y-%m-%d %H:%M:%S%.6f+00", date_format="%Y-%m-%d"
        )
        return (
            f"COPY {rows.table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            data.encode(),
        )

    def write(self, conn: Any, payload: tuple[str, bytes]) -> None:
        statement, data = payload
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)

    def finish(self, conn: Any, next_ids: dict[str, int]) -> None:
        for table in SERIAL_TABLES:
            sequence = self._sequence(conn, table)
            if next_ids[table] > 1:  # (setval refuses 0: an empty table keeps its sequence)
                self.execute(
                    conn,
                    f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {sequence})))",
                    (sequence, next_ids[table] - 1),
                )
        for table in LOADED_TABLES:
            self.execute(conn, f"ANALYZE {table}")
