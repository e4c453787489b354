"""The profile list sorts by a custom attribute (numbers as numbers, text as text, both
ways, pages that do not overlap), on SQLite and PostgreSQL; the column display says which
columns can sort."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from profile_ui.models import FieldDefinition, Profile
from profile_ui.services.attribute_sort import attribute_sort_columns, ensure_sort_index
from profile_ui.services.permissions import BUILTIN_ROLES, Actor
from profile_ui.services.profiles import ProfileError, ProfileFilter, list_profiles
from profile_ui.services.view_prefs import column_options

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
POINTS = {"Alpha": 300, "Bravo": 20, "Charlie": 1000, "Delta": 5, "Echo": 20}
STORES = {"Alpha": "Huế", "Bravo": "Cần Thơ", "Charlie": "Đà Nẵng", "Delta": "An Giang", "Echo": "Bắc Ninh"}


@pytest.fixture
def people(session):
    session.add(FieldDefinition(key="points", label="Points", type="number", position=50))
    session.add(FieldDefinition(key="store", label="Store", type="text", position=51))
    session.add(FieldDefinition(key="hobbies", label="Hobbies", type="multiple_choice", options=["a"], position=52))
    for key in ("points", "store"):
        ensure_sort_index(session, key)
    for name, points in POINTS.items():
        session.add(
            Profile(
                full_name=name,
                initial_source="test",
                attributes={"points": points, "store": STORES[name], "hobbies": ["a"]},
            )
        )
    session.flush()


def names(
    session, sort: str, descending: bool = False, page: int = 1, page_size: int = 25, flt: ProfileFilter | None = None
) -> list[str]:
    """The names on one sorted page of the list (of all active profiles unless `flt`)."""
    result = list_profiles(
        session=session,
        actor=ADMIN,
        flt=flt or ProfileFilter(),
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )
    return [p.full_name for p in result.rows]


def test_sorts_numbers_numerically_ties_by_creation_both_ways(session, people):
    assert names(session, "points") == ["Delta", "Bravo", "Echo", "Alpha", "Charlie"]
    assert names(session, "points", descending=True) == ["Charlie", "Alpha", "Echo", "Bravo", "Delta"]


def test_sorts_text_attributes(session, people):
    assert names(session, "store") == ["Delta", "Echo", "Bravo", "Alpha", "Charlie"]


def test_pages_of_a_custom_sort_do_not_overlap(session, people):
    for index in range(30):
        session.add(Profile(full_name=f"Filler {index:02}", initial_source="test", attributes={"points": index % 7}))
    session.flush()
    seen = [n for page in (1, 2) for n in names(session, "points", page=page)]
    assert len(seen) == 35 and len(set(seen)) == 35


def test_unsortable_columns_are_refused_and_marked(session, people):
    with pytest.raises(ProfileError, match="Cannot sort by 'hobbies'"):
        names(session, "hobbies")
    with pytest.raises(ProfileError, match="Cannot sort by 'nothing'"):
        names(session, "nothing")
    sortable = {o.key: o.sortable for o in column_options(session=session, actor=ADMIN)}
    assert sortable["points"] and sortable["store"] and sortable["full_name"]
    assert not sortable["hobbies"]


def profile_indexes(session) -> set[str]:
    """Index names on profiles, expression indexes included (reflection skips those)."""
    if session.get_bind().dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'profiles'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'profiles'"
    return set(session.execute(sa.text(query)).scalars())


def test_a_new_custom_attribute_sorts_from_its_own_index(session):
    from profile_ui.services.workspace_settings import create_field, delete_field

    create_field(session=session, actor=ADMIN, label="Visits", type="number")
    assert "ix_profiles_attr_visits" in profile_indexes(session)
    if session.get_bind().dialect.name == "sqlite":
        query = str(
            sa.select(Profile.id)
            .where(Profile.status == "active")
            .order_by(*[c.desc() for c in attribute_sort_columns("visits")])
            .limit(50)
            .compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        )
        plan = " ".join(str(r) for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + query))
        assert "ix_profiles_attr_visits" in plan and "TEMP B-TREE" not in plan
    delete_field(session=session, actor=ADMIN, key="visits")
    assert "ix_profiles_attr_visits" not in profile_indexes(session)
