"""Connections for the floors: a SQLite file path or a PostgreSQL URL, no product code."""

from __future__ import annotations

import sqlite3
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


def now_text() -> str:
    """UTC now as the product's SQLite columns hold it (naive, microseconds)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
