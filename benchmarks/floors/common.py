"""Connections for the floors: a SQLite file path or a PostgreSQL URL, no product code."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql", "postgres:"))


def connect(target: str) -> Any:
    """A DB-API connection: a SQLite file (path or sqlite:/// URL) or a PostgreSQL URL."""
    if is_postgres(target):
        import psycopg

        return psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://"))
    path = target.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def now_text() -> str:
    """UTC now as the product's SQLite columns hold it (naive, microseconds)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
