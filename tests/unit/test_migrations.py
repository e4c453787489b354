"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import profile_ui.models  # noqa: F401  (registers the tables)
from alembic import command
from profile_ui.cli import upgrade_database
from profile_ui.db import make_engine
from profile_ui.models import in_modelled_schema
from tests.conftest import _pg_admin, _pg_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (not cloned from the migrated template)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails in CI) without PostgreSQL
    name = f"pu_empty_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": in_modelled_schema})
        return compare_metadata(context, SQLModel.metadata)


def alembic_config(connection: sa.Connection | None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["connection"] = connection
    return config


def test_upgrade_from_empty_database_leaves_nothing_to_autogenerate(empty_url):
    upgrade_database(empty_url)
    engine = make_engine(empty_url)
    try:
        assert schema_differences(engine) == []
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_url):
    """`profile-ui db upgrade` runs on every `make setup`: the second run changes nothing."""
    upgrade_database(empty_url)
    upgrade_database(empty_url)
    engine = make_engine(empty_url)
    try:
        assert schema_differences(engine) == []
        with engine.connect() as conn:
            roles = conn.execute(sa.text("SELECT count(*) FROM roles")).scalar_one()
        assert roles == 3  # reference data not duplicated
    finally:
        engine.dispose()


def test_test_databases_match_the_models(engine):
    """The migrated template every test clones is the current schema too."""
    assert schema_differences(engine) == []


def test_downgrade_to_base_and_back(empty_url):
    upgrade_database(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
