"""Engine and session helpers. SQLite runs with WAL, foreign keys and a busy timeout.

Event handlers run their database work in a bounded pool of threads (`EVENT_THREADS`,
state/base.py), each holding at most a session or two at once; the engine's pool holds
more connections than that (plus the embedded shape's job threads), so a thread never
queues for a connection. A thread waiting on SQLite's write lock (busy timeout) sleeps
without the GIL and without the event loop: other tabs' events go on in other threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .settings import get_settings


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# threads per process that run event handlers' database work (state/base.py): most of an
# event's time is a wait for the database, so more threads than cores; bounded, so a burst
# of events queues for a thread rather than piling up connections
EVENT_THREADS = 16
# connections per process: every event thread holding one, a nested session in some of
# them, and the jobs' threads (the embedded shape runs jobs in the app's process)
POOL_SIZE = EVENT_THREADS + 4
POOL_OVERFLOW = EVENT_THREADS


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # a file's pool is a QueuePool (5 + 10 by default); an in-memory database's is one
        # connection per thread and takes no sizes
        sizes = (
            {}
            if url in ("sqlite://", "sqlite:///:memory:")
            else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        )
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **sizes)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
