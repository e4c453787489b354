"""Connections for the floors: a SQLite file path or a PostgreSQL URL, no product code."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg  # imported here, so that no floor's seconds include an import


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql", "postgres:"))


def connect(target: str, bulk: bool = False) -> Any:
    """A DB-API connection: a SQLite file (path or sqlite:/// URL) or a PostgreSQL URL.

    On SQLite, a large page cache and in-memory sorting; `bulk` (a load into a database
    nobody else has open) writes a rollback journal rather than WAL: pages once, not twice."""
    if is_postgres(target):
        return psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://"))
    path = target.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'DELETE' if bulk else 'WAL'}")
    for pragma in ("synchronous=NORMAL", "cache_size=-1000000", "temp_store=2", "threads=2"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


@contextmanager
def transaction(target: str, bulk: bool = False) -> Iterator[Any]:
    """A cursor inside ONE transaction (SQLite: holding the write lock from the start),
    committed at the end, rolled back on any error; the connection closed either way."""
    conn = connect(target, bulk)
    cur = conn.cursor()
    try:
        if not is_postgres(target):
            cur.execute("BEGIN IMMEDIATE")
        yield cur
        conn.commit() if is_postgres(target) else cur.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def write_rows(cur: Any, postgres: bool, table: str, frame: Any) -> None:
    """All rows of a polars frame into `table` (its columns by name): COPY, or executemany."""
    names = ", ".join(f'"{c}"' for c in frame.columns)
    if postgres:
        with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(frame.write_csv(include_header=False))
    else:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * frame.width)})", frame.iter_rows())


def now_text() -> str:
    """UTC now as the product's SQLite columns hold it (naive, microseconds)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
