"""Whether the production shape's shared services answer: `profile-ui check-scale`.

The production shape (README "Running at scale") needs PostgreSQL in DATABASE_URL and
Redis in REDIS_URL, both reachable from every process; `make run-scale` runs this check
first, so a missing or stopped service is named in one line instead of surfacing as a
worker's stack trace. Each problem is a sentence saying what is missing and how to fix it.
"""

from __future__ import annotations

import sqlalchemy as sa

CONNECT_TIMEOUT_S = 3


def redact_url(url: str) -> str:
    """The URL with its password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable URL)"


def database_problem(database_url: str) -> str | None:
    """None when DATABASE_URL is a PostgreSQL that answers, else what is wrong."""
    if not database_url or database_url.startswith("sqlite"):
        return (
            "DATABASE_URL must point at PostgreSQL (e.g. "
            "postgresql+psycopg://user@127.0.0.1:5432/profile_ui): several processes "
            "share one database, which SQLite cannot do across machines"
        )
    try:
        url = sa.engine.make_url(database_url)
    except sa.exc.ArgumentError:
        return f"DATABASE_URL is not a database URL: {database_url!r}"
    if url.get_backend_name() != "postgresql":
        return f"DATABASE_URL must point at PostgreSQL, not {url.get_backend_name()}"
    engine = sa.create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return (
            f"PostgreSQL at {redact_url(database_url)} does not answer ({reason}); start it "
            "or fix DATABASE_URL (the database must exist: createdb <name>)"
        )
    finally:
        engine.dispose()
    return None


def redis_problem(redis_url: str | None) -> str | None:
    """None when REDIS_URL is a Redis that answers, else what is wrong."""
    if not redis_url:
        return (
            "REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): the backend workers "
            "share UI state and the job workers their queue through it"
        )
    import redis  # here: only the production shape's start-up check loads the client

    try:
        client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
        )
        client.ping()
        client.close()
    except ValueError as exc:
        return f"REDIS_URL is not a Redis URL: {exc}"
    except redis.RedisError as exc:
        return f"Redis at {redact_url(redis_url)} does not answer ({exc}); start it or fix REDIS_URL"
    return None


def scale_problems(database_url: str, redis_url: str | None) -> list[str]:
    """Everything that keeps the production shape from starting (empty when ready)."""
    return [problem for problem in (database_problem(database_url), redis_problem(redis_url)) if problem]
