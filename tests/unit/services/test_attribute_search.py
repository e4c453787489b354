"""The query box searches the text custom fields shown as list columns, accent-insensitively:
"da nang" finds "Đà Nẵng", whoever wrote the value (a hand-made profile, an edit, an import,
an undo, the migration of existing rows), on SQLite and PostgreSQL; each text field has its
own index of folded values; the column display says which columns the query box searches."""

from __future__ import annotations

import json

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import select

from alembic import command
from profile_ui.db import make_engine
from profile_ui.models import FieldDefinition, Profile, fold_attributes
from profile_ui.services.attribute_sort import drop_sort_index, ensure_sort_index
from profile_ui.services.importing.undo import undo_import
from profile_ui.services.name_fold import folded_attributes
from profile_ui.services.permissions import BUILTIN_ROLES, Actor
from profile_ui.services.profile_edit import update_profile_fields
from profile_ui.services.profiles import ProfileFilter, count_profiles, list_profiles
from profile_ui.services.view_prefs import column_options
from tests.unit.services.importing.frames import ensure_custom_fields, rule, run_import, validated
from tests.unit.test_migrations import alembic_config

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
STORES = {"Alpha": "Huế", "Bravo": "Cần Thơ", "Charlie": "Đà Nẵng", "Delta": "Đà Lạt", "Echo": "An Giang"}


@pytest.fixture
def people(session):
    session.add(FieldDefinition(key="store", label="Store", type="text", position=51))
    session.add(FieldDefinition(key="points", label="Points", type="number", position=52))
    for key in ("store", "points"):
        ensure_sort_index(session, key)
    for name, store in STORES.items():
        session.add(Profile(full_name=name, initial_source="test", attributes={"store": store, "points": 7}))
    session.flush()


def found(session, text: str, fields: list[str], sort: str = "full_name") -> list[str]:
    flt = ProfileFilter(text=text, text_fields=fields)
    page = list_profiles(session=session, actor=ADMIN, flt=flt, sort=sort, descending=False)
    return [p.full_name for p in page.rows]


def _indexes(session) -> set[str]:
    if session.get_bind().dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'profiles'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    return set(session.execute(sa.text(query)).scalars())


@pytest.mark.parametrize("sort", ["full_name", "created_at", "store"])
def test_a_shown_text_field_is_searched_from_its_start_without_accents(session, people, sort):
    assert found(session, "da nang", ["store"], sort) == ["Charlie"]
    assert found(session, "ĐÀ", ["store"], sort) == (["Delta", "Charlie"] if sort == "store" else ["Charlie", "Delta"])
    assert found(session, "can tho", ["store"], sort) == ["Bravo"]
    assert found(session, "tho", ["store"], sort) == []  # from the start, like names
    assert found(session, "alpha", ["store"], sort) == ["Alpha"]  # names still match
    assert count_profiles(session=session, actor=ADMIN, flt=ProfileFilter(text="da", text_fields=["store"])) == 2


def test_fields_not_shown_or_not_text_are_not_searched(session, people):
    assert found(session, "da nang", []) == []
    assert found(session, "7", ["points"]) == []
    assert found(session, "da nang", ["no such; key"]) == []  # never written into SQL


def test_each_text_field_has_its_own_index_made_and_dropped_with_it(session, people):
    assert "ix_profiles_fold_store" in _indexes(session)
    assert "ix_profiles_fold_points" not in _indexes(session)  # numbers are not searched as text
    drop_sort_index(session, "store")
    assert "ix_profiles_fold_store" not in _indexes(session)


def test_the_column_display_says_which_columns_the_query_box_searches(session, people):
    options = {o.key: o for o in column_options(session=session, actor=ADMIN)}
    assert options["store"].searchable and not options["points"].searchable
    assert not options["full_name"].searchable  # names are always searched, shown or not


def test_an_edited_value_is_found_by_its_new_folded_form(session, people):
    hue = session.exec(select(Profile).where(Profile.full_name == "Alpha")).one()
    update_profile_fields(session=session, actor=ADMIN, profile_id=hue.id, values={"store": "Hội An"})
    session.flush()
    assert found(session, "hoi an", ["store"]) == ["Alpha"]
    assert found(session, "hue", ["store"]) == []


def test_imported_values_are_found_folded_and_undo_puts_the_folded_value_back(session):
    ensure_custom_fields(session)
    sync = rule(session, ["email"])
    run_import(session, validated([{"email": "hoa@example.com", "full_name": "Hoa", "note": "Hà Nội"}]), sync=sync)
    assert found(session, "ha noi", ["note"]) == ["Hoa"]
    job, _ = run_import(session, validated([{"email": "hoa@example.com", "note": "Sài Gòn"}]), sync=sync)
    assert found(session, "sai gon", ["note"]) == ["Hoa"]
    assert found(session, "ha noi", ["note"]) == []
    undo_import(session=session, actor=ADMIN, job_id=job.id)
    session.flush()
    assert found(session, "ha noi", ["note"]) == ["Hoa"]
    assert found(session, "sai gon", ["note"]) == []


def test_fold_attributes_keeps_the_text_values_folded():
    assert fold_attributes({"a": "Đà  Nẵng ", "b": 3, "c": ["x"], "d": ""}) == {"a": "da nang", "d": None}
    assert fold_attributes(None) == {}
    texts = pl.Series(['{"a": "Huế"}', None, '{"a": "Huế"}', "{}"])
    assert folded_attributes(texts).to_list() == [json.dumps({"a": "hue"}), None, json.dumps({"a": "hue"}), "{}"]


def test_migration_fills_the_folded_attributes_of_existing_profiles(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0011")
            conn.execute(
                sa.text(
                    "INSERT INTO field_definitions (key, label, type, options, is_system, "
                    "required_on_create, is_pii, position) "
                    "VALUES ('store', 'Store', 'text', '[]', false, false, false, 9)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO profiles (full_name, status, attributes, created_at, updated_at) "
                    "VALUES ('A', 'active', :attributes, '2024-01-01', '2024-01-01')"
                ),
                [{"attributes": json.dumps({"store": "Đà Nẵng", "points": 3})}, {"attributes": "{}"}],
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0012")
            rows = conn.execute(sa.text("SELECT attributes_folded FROM profiles ORDER BY id")).scalars().all()
            indexes = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars().all()
        assert [json.loads(r) for r in rows] == [{"store": "da nang"}, {}]
        assert "ix_profiles_fold_store" in indexes
    finally:
        engine.dispose()
