"""`profile-ui check-scale` (run first by `make run-scale`): says what the production shape
is missing, in words, and passes when PostgreSQL and Redis answer. The whole shape
started by `make run-scale` is exercised by the browser suite (tests/e2e/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from profile_ui.cli import main
from tests.services import ThrowawayRedis, free_port


def _check(app_env, database_url: str, **env: str):
    app_env(database_url, **env)
    return CliRunner().invoke(main, ["check-scale"])


def test_sqlite_and_no_redis_are_named(app_env, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = _check(app_env, sqlite_url)
    assert result.exit_code == 1
    assert "DATABASE_URL must point at PostgreSQL" in result.output
    assert "REDIS_URL is not set" in result.output


@pytest.mark.postgres
def test_servers_that_do_not_answer_are_named(app_env, pg_url: str) -> None:
    port = free_port()
    missing_db = pg_url.rsplit("/", 1)[0] + "/pu_no_such_database"
    result = _check(app_env, missing_db, REDIS_URL=f"redis://:secret@127.0.0.1:{port}/0")
    assert result.exit_code == 1
    assert 'database "pu_no_such_database" does not exist' in result.output
    assert f"Redis at redis://:***@127.0.0.1:{port}/0 does not answer" in result.output
    assert "secret" not in result.output


@pytest.mark.postgres
def test_passes_when_both_answer(app_env, pg_url: str, tmp_path: Path) -> None:
    try:
        redis = ThrowawayRedis(tmp_path).start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    try:
        result = _check(app_env, pg_url, REDIS_URL=redis.url(3))
    finally:
        redis.stop()
    assert result.exit_code == 0, result.output
    assert "PostgreSQL and Redis answer" in result.output
