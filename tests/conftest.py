"""Shared fixtures: a migrated database per test, on SQLite and on PostgreSQL.

`db_url` / `engine` / `session` are parametrized over both backends; a test that only
needs one backend uses `sqlite_url` or `pg_url`. PostgreSQL gets a fresh database per
test, cloned from a migrated template created once per run (127.0.0.1:5432, trust auth).
In CI (CI=true) a missing PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

_RUN_DIR = Path(tempfile.mkdtemp(prefix="profile-ui-tests-"))
os.environ.setdefault("DATA_DIR", str(_RUN_DIR / "data"))
os.environ.setdefault("ENVIRONMENT", "test")

# (E402 below: DATA_DIR and ENVIRONMENT must be set before the app's modules read them)
import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from profile_ui.cli import upgrade_database  # noqa: E402
from profile_ui.db import make_engine  # noqa: E402

from .services import pg_admin as _pg_admin  # noqa: E402
from .services import pg_url as _pg_url  # noqa: E402

_RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _RUN_DIR / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"pu_tpl_{_RUN_ID}"
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    upgrade_database(_pg_url(name))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = f"pu_{_RUN_ID}_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def _forget_app_config() -> None:
    """Drop the cached settings, engine and job queue, so the next use reads the env again."""
    from profile_ui.db import get_engine
    from profile_ui.jobs.runner import get_queue
    from profile_ui.settings import get_settings

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    for cached in (get_engine, get_settings, get_queue):
        cached.cache_clear()


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Point the app's own settings (get_settings / get_engine: CLI, jobs, queue) at a test
    database: `app_env(sqlite_url, SMTP_PORT="2525")` sets DATABASE_URL, a fresh DATA_DIR and
    any extra variables, and returns that DATA_DIR."""

    def configure(database_url: str, **env: str) -> Path:
        data_dir = tmp_path / "app-data"
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("DATA_DIR", str(data_dir))
        for name, value in env.items():
            monkeypatch.setenv(name.upper(), value)
        _forget_app_config()
        return data_dir

    yield configure
    _forget_app_config()


@pytest.fixture(autouse=True)
def sent_import_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The applied imports whose possible-duplicate check was sent to the queue. No worker
    runs it in a unit test: the test runs it (jobs/import_check.py: run_import_check, or
    duplicate_checks.run_applied_check), as a worker would after the apply's commit."""
    from profile_ui.services import dispatch

    sent: list[int] = []
    monkeypatch.setitem(dispatch.SENDERS, dispatch.IMPORT_DUPLICATES, sent.append)
    return sent


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the cheapest parameters: sign-in tests hash many passwords."""
    from argon2 import PasswordHasher

    from profile_ui.services import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
