"""The profile list sorts by a tag column, on SQLite and PostgreSQL: by the tag's value (a
multi-value tag by its first value, a tag without a value before any value), profiles
without the tag last in both directions, ties by id, pages that do not overlap whichever
end they are read from and whichever plan reads them; the order follows every write of
tag values (batch tag, untag, imports, merges and unmerges), since the sort reads the tag value table itself;
the column display says which tag columns sort and how."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from profile_ui.models import Profile, ProfileTag, utcnow
from profile_ui.services.importing import ImportOptions
from profile_ui.services.merging import merge_profiles, unmerge
from profile_ui.services.profiles import ProfileError, ProfileFilter, page_cells
from profile_ui.services.profiles.actions import tag_profiles, untag_profile
from profile_ui.services.view_prefs import column_options
from tests.unit.services.importing.frames import make_tag, rule, run_import, seed_profiles, validated
from tests.unit.services.test_attribute_sort import ADMIN, names  # one sorted page

# name -> values of the Stage tag in the order they are given ("" is the tag without a value)
STAGES = {"Alpha": ["b"], "Bravo": ["a"], "Charlie": [], "Delta": ["b"], "Echo": [""], "Foxtrot": []}


def insert_tags(session, tag_id: int, rows: list[tuple[int, str]]) -> None:
    """As a bulk import writes tag values: one set-based INSERT, no ORM object per row."""
    session.execute(
        sa.insert(ProfileTag),
        [
            {"profile_id": pid, "tag_id": tag_id, "value": v, "source": "import", "created_at": utcnow()}
            for pid, v in rows
        ],
    )


@pytest.fixture
def people(session) -> dict[str, int]:
    ids = dict(zip(STAGES, seed_profiles(session, [{"full_name": name} for name in STAGES])))
    stage = make_tag(session, "Lifecycle", "Stage")
    insert_tags(session, stage, [(ids[name], value) for name, values in STAGES.items() for value in values])
    session.flush()
    return {**ids, "stage": stage}


def test_sorts_by_value_missing_last_ties_by_id_both_ways(session, people):
    stage = f"tag:{people['stage']}"
    # Echo's tag has no value: before any value; Alpha and Delta tie on "b", so by id
    assert names(session, stage) == ["Echo", "Bravo", "Alpha", "Delta", "Charlie", "Foxtrot"]
    assert names(session, stage, descending=True) == ["Delta", "Alpha", "Bravo", "Echo", "Foxtrot", "Charlie"]


def test_a_multi_value_tag_sorts_by_the_first_value_its_cell_shows(session, people):
    interest = make_tag(session, "Interests", "Interest", kind="multi")
    # Alpha was given "z" first, then "a": its cell reads "z, a" and it sorts by "z"
    insert_tags(session, interest, [(people["Alpha"], "z"), (people["Bravo"], "m")])
    insert_tags(session, interest, [(people["Alpha"], "a"), (people["Charlie"], "n")])
    session.flush()
    column = f"tag:{interest}"
    assert names(session, column)[:3] == ["Bravo", "Charlie", "Alpha"]
    assert names(session, column, descending=True)[:3] == ["Alpha", "Charlie", "Bravo"]
    rows = session.execute(sa.select(Profile).where(Profile.id == people["Alpha"])).scalars().all()
    assert page_cells(session=session, rows=rows, columns=[column])[0][column] == "z, a"


def test_the_column_display_says_which_tag_columns_sort_and_how(session, people):
    interest = make_tag(session, "Interests", "Interest", kind="multi")
    options = {o.key: o for o in column_options(session=session, actor=ADMIN)}
    stage = options[f"tag:{people['stage']}"]
    multi = options[f"tag:{interest}"]
    assert stage.sortable and stage.sorts_how == "" and not stage.not_sortable_because
    assert multi.sortable and multi.sorts_how == "sorts by its first value"


def test_an_unknown_tag_is_refused(session, people):
    with pytest.raises(ProfileError, match="Cannot sort by 'tag:999999'"):
        names(session, "tag:999999")
    with pytest.raises(ProfileError, match="Cannot sort by 'tag:x'"):
        names(session, "tag:x")


def expected_order(session, tag_id: int, descending: bool, only: set[int] | None = None) -> list[str]:
    """The order by hand: each profile's first value (lowest row id), missing last, then id."""
    first: dict[int, str] = {}
    for pid, value in session.execute(
        sa.select(ProfileTag.profile_id, ProfileTag.value).where(ProfileTag.tag_id == tag_id).order_by(ProfileTag.id)
    ).all():
        first.setdefault(pid, value)
    people = session.execute(sa.select(Profile.id, Profile.full_name)).all()
    people = [(pid, name) for pid, name in people if only is None or pid in only]
    keyed = sorted((p for p in people if p[0] in first), key=lambda p: (first[p[0]], p[0]), reverse=descending)
    unkeyed = sorted((p for p in people if p[0] not in first), reverse=descending)
    return [name for _, name in keyed + unkeyed]


@pytest.mark.parametrize("dense", [False, True], ids=["few-tagged", "most-tagged"])
@pytest.mark.parametrize("selection", [False, True], ids=["scan", "drive"])
def test_pages_do_not_overlap_whichever_end_they_are_read_from(session, people, selection, dense):
    fillers = seed_profiles(session, [{"full_name": f"Filler {i:03}"} for i in range(120)])
    # a quarter tagged (the tagged stretch ends on page 2, page 3 starts past it) or three
    # quarters (pages past the middle, read from the other end, cross from the profiles
    # without the tag into the tagged ones)
    tagged = [pid for pid in fillers if (pid % 4 != 0) == dense]
    insert_tags(session, people["stage"], [(pid, f"v{pid % 3}") for pid in tagged])
    session.flush()
    stage = f"tag:{people['stage']}"
    # a selection of ids: the list drives the page from that set on SQLite
    chosen = {pid for pid in fillers if pid % 5} | {people["Alpha"], people["Charlie"]} if selection else None
    flt = ProfileFilter(profile_ids=sorted(chosen)) if chosen else ProfileFilter()
    total = len(chosen) if chosen else 126
    for descending in (False, True):
        listed = [
            name
            for page in range(1, -(-total // 25) + 1)
            for name in names(session, stage, descending=descending, page=page, page_size=25, flt=flt)
        ]
        assert listed == expected_order(session, people["stage"], descending, chosen)


def test_the_order_follows_batch_tagging_untagging_and_imports(session, people):
    stage = f"tag:{people['stage']}"
    # a text tag holds one value: batch tagging replaces Delta's "b" with "0"
    tag_profiles(session=session, actor=ADMIN, tag_id=people["stage"], value="0", profile_ids=[people["Delta"]])
    assert names(session, stage)[:3] == ["Echo", "Delta", "Bravo"]
    tag_profiles(session=session, actor=ADMIN, tag_id=people["stage"], value="c", profile_ids=[people["Foxtrot"]])
    untag_profile(session=session, actor=ADMIN, profile_id=people["Bravo"], tag_id=people["stage"])
    assert names(session, stage) == ["Echo", "Delta", "Alpha", "Foxtrot", "Bravo", "Charlie"]

    # an import tags Ann and a new profile, Cy (a tags column: tags without a value) ...
    (ann,) = seed_profiles(session, [{"full_name": "Ann", "email": "ann@x.com"}])
    session.commit()
    frame = validated(
        [{"email": "ann@x.com", "tags": ["vip"]}, {"email": "cy@x.com", "full_name": "Cy", "tags": ["vip"]}]
    )
    run_import(session, frame, sync=rule(session, ["email"]), options=ImportOptions(tags_mode="append"))
    vip = session.execute(sa.select(ProfileTag.tag_id).where(ProfileTag.profile_id == ann)).scalar_one()
    # ... they come first, by id; everyone else after them
    assert names(session, f"tag:{vip}")[:3] == ["Ann", "Cy", "Alpha"]
    assert names(session, f"tag:{vip}", descending=True)[:2] == ["Cy", "Ann"]


def test_the_order_follows_merges_and_unmerges(session, people):
    stage = f"tag:{people['stage']}"
    # Charlie (no stage) takes in Bravo ("a"): Charlie now sorts by "a", Bravo is no longer listed
    merged = merge_profiles(
        session=session, actor=ADMIN, survivor_id=people["Charlie"], merged_id=people["Bravo"], reason="same person"
    )
    assert names(session, stage) == ["Echo", "Charlie", "Alpha", "Delta", "Foxtrot"]
    unmerge(session=session, actor=ADMIN, merge_id=merged.merge_id)
    assert names(session, stage) == ["Echo", "Bravo", "Alpha", "Delta", "Charlie", "Foxtrot"]


def test_sorted_pages_walk_the_indexes(session, people):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    from profile_ui.services.profiles.filters import where_clause
    from profile_ui.services.profiles.tag_sort import _keyed, _unkeyed

    where = where_clause(ProfileFilter())
    plans = {}
    for name, query in (
        ("keyed", _keyed(where, people["stage"], True, None)),
        ("unkeyed", _unkeyed(where, people["stage"], True, None)),
    ):
        text = str(query.limit(50).compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + text)
        plans[name] = " ".join(str(r) for r in rows)
    assert "ix_profile_tags_sort" in plans["keyed"]
    assert "ix_profiles_status_id" in plans["unkeyed"]
    # neither stretch sorts: each is read in its index's order, only as far as the page
    assert not any("TEMP B-TREE" in plan for plan in plans.values())
