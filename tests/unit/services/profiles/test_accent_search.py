"""The list's query box ignores accents and case: "nguyen" finds "Nguyễn", "tran thi"
finds "Trần Thị", whoever wrote the name (a hand-made profile, an edit, an import, an
undo, the migration of existing rows), on SQLite and PostgreSQL. The migration also
gives existing custom attributes their sort index."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from alembic import command
from profile_ui.db import make_engine
from profile_ui.models import Profile, fold_name
from profile_ui.services.importing.undo import undo_import
from profile_ui.services.permissions import BUILTIN_ROLES, Actor
from profile_ui.services.profile_edit import update_profile_fields
from profile_ui.services.profiles import ProfileFilter, count_profiles, list_profiles
from tests.unit.services.importing.frames import rule, run_import, validated
from tests.unit.test_migrations import alembic_config

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
NAMES = [
    "Nguyễn Văn An",
    "Nguyễn Thị Bình",
    "Nguyen Van Cuong",
    "Trần Thị Hoa",
    "Trần Minh Châu",
    "Đặng Thu Thảo",
    "Emma Smith",
]


def found(session, text: str, sort: str = "full_name") -> list[str]:
    page = list_profiles(session=session, actor=ADMIN, flt=ProfileFilter(text=text), sort=sort, descending=False)
    return [p.full_name for p in page.rows]


@pytest.fixture
def people(session):
    for name in NAMES:
        session.add(Profile(full_name=name, initial_source="test", attributes={}))
    session.flush()


@pytest.mark.parametrize("sort", ["full_name", "created_at"])
def test_typed_without_accents_or_case_finds_the_accented_names(session, people, sort):
    assert sorted(found(session, "nguyen", sort)) == ["Nguyen Van Cuong", "Nguyễn Thị Bình", "Nguyễn Văn An"]
    assert found(session, "tran thi", sort) == ["Trần Thị Hoa"]
    assert found(session, "TRAN  THI", sort) == ["Trần Thị Hoa"]  # any case, extra spaces
    assert found(session, "dang", sort) == ["Đặng Thu Thảo"]  # Đ is D
    assert sorted(found(session, "Nguyễn Văn", sort)) == ["Nguyen Van Cuong", "Nguyễn Văn An"]  # accents typed too
    assert found(session, "tran thi h", sort) == ["Trần Thị Hoa"]
    assert count_profiles(session=session, actor=ADMIN, flt=ProfileFilter(text="nguyen")) == 3


def test_text_that_folds_to_nothing_matches_no_name(session, people):
    assert found(session, "\u0301") == []


def test_an_edited_name_is_found_by_its_new_folded_form(session, people):
    hoa = session.exec(select(Profile).where(Profile.full_name == "Trần Thị Hoa")).one()
    update_profile_fields(session=session, actor=ADMIN, profile_id=hoa.id, values={"full_name": "Lê Thị Hoa"})
    session.flush()
    assert found(session, "le thi") == ["Lê Thị Hoa"]
    assert found(session, "tran thi") == []


def test_imported_names_are_found_folded_and_undo_puts_the_folded_name_back(session):
    sync = rule(session, ["email"])
    run_import(session, validated([{"email": "hoa@example.com", "full_name": "Trần Thị Hoa"}]), sync=sync)
    assert found(session, "tran thi") == ["Trần Thị Hoa"]
    job, _ = run_import(session, validated([{"email": "hoa@example.com", "full_name": "Phạm Thị Hoa"}]), sync=sync)
    assert found(session, "pham thi") == ["Phạm Thị Hoa"]
    assert found(session, "tran thi") == []
    undo_import(session=session, actor=ADMIN, job_id=job.id)
    session.flush()
    assert found(session, "tran thi") == ["Trần Thị Hoa"]
    assert found(session, "pham thi") == []


def test_fold_name():
    assert fold_name("  Nguyễn   Văn An ") == "nguyen van an"
    assert fold_name("ĐẶNG THU THẢO") == "dang thu thao"
    assert fold_name(None) is None
    assert fold_name("\u0301") is None


def test_migration_fills_the_folded_names_of_existing_profiles(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0010")
            conn.execute(
                sa.text(
                    "INSERT INTO profiles (full_name, status, attributes, created_at, updated_at) "
                    "VALUES (:name, 'active', '{}', '2024-01-01', '2024-01-01')"
                ),
                [{"name": "Trần Thị Hoa"}, {"name": None}],
            )
            conn.execute(
                sa.text(
                    "INSERT INTO field_definitions (key, label, type, options, is_system, "
                    "required_on_create, is_pii, position) "
                    "VALUES ('points', 'Points', 'number', '[]', false, false, false, 9)"
                )
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0011")
            rows = conn.execute(sa.text("SELECT full_name, name_folded FROM profiles ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("Trần Thị Hoa", "tran thi hoa"), (None, None)]
        with engine.connect() as conn:  # the existing custom attribute sorts from its own index
            indexes = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars().all()
        assert "ix_profiles_attr_points" in indexes
    finally:
        engine.dispose()
