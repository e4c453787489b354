"""The profile list (query box, filters, sorts, pages, counts), User 360, status and
bulk tagging/grouping, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import (
    AuditEvent,
    Group,
    GroupMembership,
    Identity,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
)
from profile_ui.services.importing import ImportOptions
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied
from profile_ui.services.profiles import (
    ProfileError,
    ProfileFilter,
    add_profiles_to_group,
    count_profiles,
    estimate_count,
    get_profile_360,
    list_profiles,
    page_cells,
    set_profile_status,
    tag_profiles,
    untag_profile,
)
from profile_ui.services.profiles import query as svc
from tests.unit.services.importing.frames import rule, run_import, validated

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
MARKETER = Actor(
    user_id=2, email="marketer@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1])
)
VIEWER = Actor(user_id=3, email="viewer@example.com", role="viewer", permissions=frozenset(BUILTIN_ROLES["viewer"][1]))
T0 = datetime(2024, 1, 1, tzinfo=UTC)

# name, gender, birthday, city, level, registered (days), created (days), email, phone, user id, status
PEOPLE = [
    (
        "Nguyễn Văn An",
        "Male",
        "1990-03-12",
        "Hà Nội",
        "Gold",
        5,
        10,
        "an@example.com",
        "+84912345001",
        "U001",
        "active",
    ),
    (
        "Nguyễn Thị Bình",
        "Female",
        "1985-07-01",
        "Huế",
        "Silver",
        3,
        20,
        "binh@example.com",
        "+84912345002",
        "U002",
        "active",
    ),
    ("Trần Minh Châu", "Female", "1999-12-30", "Đà Nẵng", "Gold", 9, 30, "chau@example.com", None, "U003", "active"),
    ("Lê Đức Dũng", "Male", "1978-01-15", "Cần Thơ", "Bronze", 1, 40, None, "+84912345004", "U004", "active"),
    (
        "Emma Smith",
        "Female",
        "2001-05-05",
        "Singapore",
        "Platinum",
        7,
        50,
        "emma@example.com",
        "+84912345005",
        None,
        "active",
    ),
    ("Oliver Brown", "Male", "1995-09-09", "London", "Bronze", 2, 60, "oliver@example.com", None, "U006", "active"),
    (
        "Phạm Gia Huy",
        "Other",
        "1988-02-28",
        "Hải Phòng",
        "Silver",
        8,
        70,
        "huy@example.com",
        "+84912345007",
        "U007",
        "deactivated",
    ),
    ("Võ Thanh Hà", "Female", "1992-11-11", "Vinh", "Gold", 4, 80, "ha@example.com", "+84912345008", "U008", "active"),
]


@pytest.fixture
def world(session):
    """PEOPLE as profiles with identities, a text tag (Stage), a multi tag (Interest), a
    group, a segment; returns a namespace of ids."""
    ids = []
    for name, gender, born, city, level, registered, created, email, phone, user_id, status in PEOPLE:
        profile = Profile(
            full_name=name,
            gender=gender,
            birthday=date.fromisoformat(born),
            city=city,
            member_level=level,
            registered_at=T0 + timedelta(days=registered),
            created_at=T0 + timedelta(days=created),
            updated_at=T0 + timedelta(days=100 - created),
            status=status,
            initial_source="test",
            attributes={"points": created},
        )
        session.add(profile)
        session.flush()
        ids.append(profile.id)
        for kind, value in (("email", email), ("phone", phone), ("user_id", user_id)):
            if value:
                session.add(Identity(profile_id=profile.id, kind=kind, value=value, source_type="seed"))
    group_tags = TagGroup(name="Lifecycle")
    session.add(group_tags)
    session.flush()
    stage = Tag(group_id=group_tags.id, name="Stage", kind="text")
    interest = Tag(group_id=group_tags.id, name="Interest", kind="multi")
    vip = Group(name="VIP Club")
    rfm = Segment(name="RFM tier")
    session.add_all([stage, interest, vip, rfm])
    session.flush()
    for pid, value in ((ids[0], "Loyal"), (ids[1], "New"), (ids[4], "Loyal"), (ids[6], "Loyal")):
        session.add(ProfileTag(profile_id=pid, tag_id=stage.id, value=value, source="seed"))
    for pid, value in ((ids[0], "Travel"), (ids[0], "Sports"), (ids[2], "Travel")):
        session.add(ProfileTag(profile_id=pid, tag_id=interest.id, value=value, source="seed"))
    for pid in (ids[0], ids[2], ids[7]):
        session.add(GroupMembership(group_id=vip.id, profile_id=pid))
    for pid in (ids[1], ids[2], ids[3]):
        session.add(SegmentMember(segment_id=rfm.id, profile_id=pid, value="Champions"))
    session.commit()

    class W:
        pass

    w = W()
    w.ids, w.stage, w.interest, w.vip, w.rfm = ids, stage.id, interest.id, vip.id, rfm.id
    return w


def names(page) -> list[str]:
    return [p.full_name for p in page.rows]


def listed(session, flt: ProfileFilter, **kw) -> list[str]:
    return names(list_profiles(session=session, actor=VIEWER, flt=flt, page_size=100, **kw))


# ---------------------------------------------------------------- query box


QUERIES = [
    ("U003", ["Trần Minh Châu"]),  # user id
    ("  CHAU@Example.com ", ["Trần Minh Châu"]),  # e-mail, any case and spaces
    ("0912 345 004", ["Lê Đức Dũng"]),  # phone in national form
    ("+84912345005", ["Emma Smith"]),  # phone as stored
    ("Nguyễn Văn An", ["Nguyễn Văn An"]),  # full name
    ("nguyễn", ["Nguyễn Thị Bình", "Nguyễn Văn An"]),  # start of a name, lower case
    ("emma", ["Emma Smith"]),  # name (and e-mail prefix)
    ("olive", ["Oliver Brown"]),  # start of an e-mail address or name
    ("oliver@exa", ["Oliver Brown"]),  # the start of an e-mail address
    ("@example.com", []),  # not the start of anything
    ("nobody", []),
]


def test_query_box_finds_by_user_id_email_phone_or_name(session, world):
    found = {text: listed(session, ProfileFilter(text=text), sort="full_name", descending=False) for text, _ in QUERIES}
    assert found == {text: sorted(expected) for text, expected in QUERIES}


def test_query_box_ignores_deactivated_profiles_unless_asked(session, world):
    assert listed(session, ProfileFilter(text="U007")) == []
    assert listed(session, ProfileFilter(text="U007", status="deactivated")) == ["Phạm Gia Huy"]


# ---------------------------------------------------------------- filters


def test_each_filter(session, world):
    w = world
    by = lambda **kw: set(listed(session, ProfileFilter(**kw)))  # noqa: E731
    assert by(member_level="Gold") == {"Nguyễn Văn An", "Trần Minh Châu", "Võ Thanh Hà"}
    assert by(group_id=w.vip) == {"Nguyễn Văn An", "Trần Minh Châu", "Võ Thanh Hà"}
    assert by(tag_ids=[w.stage]) == {"Nguyễn Văn An", "Nguyễn Thị Bình", "Emma Smith"}
    assert by(tag_values={w.stage: "Loyal"}) == {"Nguyễn Văn An", "Emma Smith"}
    assert by(tag_ids=[w.stage, w.interest]) == {"Nguyễn Văn An"}
    assert by(tag_values={w.interest: "Travel"}) == {"Nguyễn Văn An", "Trần Minh Châu"}
    assert by(segment_id=w.rfm) == {"Nguyễn Thị Bình", "Trần Minh Châu", "Lê Đức Dũng"}
    assert by(status="deactivated") == {"Phạm Gia Huy"}
    assert by(created_from=T0 + timedelta(days=20), created_to=T0 + timedelta(days=50)) == {
        "Nguyễn Thị Bình",
        "Trần Minh Châu",
        "Lê Đức Dũng",
    }
    assert by(profile_ids=[w.ids[0], w.ids[4], w.ids[6]]) == {"Nguyễn Văn An", "Emma Smith"}
    assert by(
        member_level="Gold", group_id=w.vip, tag_values={w.interest: "Travel"}, created_to=T0 + timedelta(days=25)
    ) == {"Nguyễn Văn An"}
    assert by(text="nguyễn", segment_id=w.rfm) == {"Nguyễn Thị Bình"}


def test_deactivated_group_members_are_hidden_from_the_group_filter(session, world):
    from profile_ui.models import GroupMembership, Profile

    members = session.exec(select(GroupMembership).where(GroupMembership.group_id == world.vip)).all()
    hidden = members[0]
    hidden.state = "deactivated"
    session.commit()
    name = session.get(Profile, hidden.profile_id).full_name

    shown = set(listed(session, ProfileFilter(group_id=world.vip)))
    assert name not in shown and len(shown) == len(members) - 1


def test_reset_shows_everyone_active(session, world):
    assert len(listed(session, ProfileFilter())) == 7


def test_bad_filter_input_is_refused_with_a_message(session, world):
    with pytest.raises(ProfileError, match="Cannot sort by"):
        list_profiles(session=session, actor=VIEWER, flt=ProfileFilter(), sort="attributes")
    with pytest.raises(ProfileError, match="before"):
        list_profiles(session=session, actor=VIEWER, flt=ProfileFilter(created_from=T0, created_to=T0))


@pytest.mark.parametrize("drive", [True, False])
def test_both_query_plans_give_the_same_answers(session, world, monkeypatch, drive):
    """The list starts from a small id set or scans the sort index: same rows either way."""
    monkeypatch.setattr(svc, "_is_sqlite", lambda _session: True)
    monkeypatch.setattr(svc, "_drive_for_page", lambda *_a: drive)
    if not drive:
        monkeypatch.setattr(svc, "_count_plan", lambda *_a: svc._CountPlan(None, True))
    w = world
    flt = ProfileFilter(text="nguyễn", member_level="Silver", tag_ids=[w.stage])
    assert listed(session, flt) == ["Nguyễn Thị Bình"]
    assert count_profiles(session=session, actor=VIEWER, flt=flt) == 1
    flt = ProfileFilter(group_id=w.vip, created_from=T0 + timedelta(days=15))
    assert listed(session, flt, sort="full_name", descending=False) == ["Trần Minh Châu", "Võ Thanh Hà"]
    assert count_profiles(session=session, actor=VIEWER, flt=flt) == 2
    flt = ProfileFilter(profile_ids=w.ids[:3], tag_values={w.interest: "Travel"})
    assert listed(session, flt, sort="city", descending=True) == ["Trần Minh Châu", "Nguyễn Văn An"]
    assert count_profiles(session=session, actor=VIEWER, flt=flt) == 2
    flt = ProfileFilter(tag_ids=[w.interest], segment_id=w.rfm)  # a profile with two interests counts once
    assert listed(session, flt) == ["Trần Minh Châu"]
    assert count_profiles(session=session, actor=VIEWER, flt=ProfileFilter(tag_ids=[w.interest])) == 2
    assert count_profiles(session=session, actor=VIEWER, flt=ProfileFilter(profile_ids=w.ids[:2])) == 2


def test_postgresql_reads_query_box_prefixes_as_index_ranges(session, world):
    """PostgreSQL turns LIKE 'abc%' into an index range only with text_pattern_ops (or the
    C collation): the name prefix has such an index (migration 0016, beside the model's
    index, which serves the sort by name), and the page and the count test the query box
    against its id list, which that index and the identities' (kind, value) index build.
    (At 1,000,000 profiles a page went from 2-2.8 s to milliseconds: benchmarks/README.md.)"""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's indexes")
    made = session.execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_profiles_prefix_name_folded'")
    ).scalar_one()
    assert "(status, name_folded text_pattern_ops)" in made
    assert svc._text_list_is_short(session, ProfileFilter(text="nguy"), 50)  # the page tests the id list
    assert listed(session, ProfileFilter(text="nguy")) == ["Nguyễn Thị Bình", "Nguyễn Văn An"]
    assert count_profiles(session=session, actor=VIEWER, flt=ProfileFilter(text="nguy")) == 2


# ---------------------------------------------------------------- sorts and pages


SORT_KEYS = {
    "created_at": lambda p: p[6],
    "updated_at": lambda p: 100 - p[6],
    "full_name": lambda p: p[0],
    "gender": lambda p: p[1],
    "birthday": lambda p: p[2],
    "city": lambda p: p[3],
    "member_level": lambda p: p[4],
    "registered_at": lambda p: p[5],
}


def test_every_sort(session, world):
    active = [p for p in PEOPLE if p[10] == "active"]
    order = {p[0]: i for i, p in enumerate(PEOPLE)}
    for sort in SORT_KEYS:
        for descending in (False, True):
            # ties: within a member level newest first, anything else by id (insert order)
            if sort == "member_level":
                key = lambda p: (p[4], p[6])  # noqa: E731
            else:
                key = lambda p: (SORT_KEYS[sort](p), order[p[0]])  # noqa: E731, B023  (sorted() at once)
            expected = [p[0] for p in sorted(active, key=key, reverse=descending)]
            assert listed(session, ProfileFilter(), sort=sort, descending=descending) == expected, (sort, descending)


def test_pages_and_total(session, world):
    first = list_profiles(
        session=session, actor=VIEWER, flt=ProfileFilter(), sort="full_name", descending=False, page=1, page_size=25
    )
    assert first.total == 7 and first.pages == 1 and len(first.rows) == 7
    # page sizes other than 25/50/100 fall back to 50
    assert list_profiles(session=session, actor=VIEWER, flt=ProfileFilter(), page_size=3).page_size == 50


def test_pages_in_the_second_half_read_backwards_give_the_same_rows(session, world):
    for i in range(60):  # 67 active profiles: 3 pages of 25
        session.add(Profile(full_name=f"Zed {i:02d}", created_at=T0 + timedelta(days=200 + i // 3), attributes={}))
    session.commit()
    forward = []
    for page in (1, 2, 3):
        forward += [
            p.id
            for p in list_profiles(
                session=session, actor=VIEWER, flt=ProfileFilter(), page=page, page_size=25, with_total=False
            ).rows
        ]
    known = count_profiles(session=session, actor=VIEWER, flt=ProfileFilter())
    assert known == 67 and len(forward) == 67 == len(set(forward))
    backward = []
    for page in (1, 2, 3):
        result = list_profiles(
            session=session,
            actor=VIEWER,
            flt=ProfileFilter(),
            page=page,
            page_size=25,
            with_total=False,
            known_total=known,
        )
        assert result.total == known
        backward += [p.id for p in result.rows]
    assert backward == forward
    # a page past the end shows the last one
    assert list_profiles(session=session, actor=VIEWER, flt=ProfileFilter(), page=9, page_size=25).page == 3


# ---------------------------------------------------------------- counts


def test_count_and_estimate_are_exact_for_small_matches(session, world):
    flt = ProfileFilter(tag_ids=[world.stage])
    assert count_profiles(session=session, actor=VIEWER, flt=flt) == 3
    estimate = estimate_count(session=session, actor=VIEWER, flt=flt)
    assert estimate.exact and estimate.value == 3
    assert estimate_count(session=session, actor=VIEWER, flt=ProfileFilter()).value == 7


@pytest.mark.parametrize("held_by_most", [True, False])
def test_the_unfiltered_count_is_exact_either_way(session, world, monkeypatch, held_by_most):
    """SQLite counts a status most profiles have as all minus the others: the same numbers."""
    monkeypatch.setattr(svc, "_held_by_most", lambda *_a: held_by_most)
    for status, expected in (("active", 7), ("deactivated", 1)):
        assert count_profiles(session=session, actor=VIEWER, flt=ProfileFilter(status=status)) == expected
        assert estimate_count(session=session, actor=VIEWER, flt=ProfileFilter(status=status)).value == expected


def test_a_count_driven_by_a_set_probes_the_status_index_not_the_rows(session, world):
    """With no condition on the row but its status, each id of the set is looked up in the
    narrow (status, id) index rather than in the wide table rows."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    statements = []

    def remember(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        assert count_profiles(session=session, actor=VIEWER, flt=ProfileFilter(tag_ids=[world.stage])) == 3
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    statement, parameters = statements[-1]
    plan = " ".join(str(r) for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "ix_profiles_status_id" in plan


def test_estimate_for_large_matches_is_marked_and_close(session, world, monkeypatch):
    """With big sets the first count is a sample, marked not exact, with bounds around it."""
    rows = [
        {
            "full_name": f"P{i}",
            "status": "active",
            "attributes": {},
            "created_at": T0,
            "updated_at": T0,
            "member_level": "Gold" if i % 3 else "Silver",
        }
        for i in range(600)
    ]
    session.execute(sa.insert(Profile), rows)
    session.commit()
    monkeypatch.setattr(svc, "_is_sqlite", lambda _session: True)
    monkeypatch.setattr(svc, "_SET_SIZE_CAP", 10)
    monkeypatch.setattr(svc, "_ROW_SCAN_MAX", 10)
    monkeypatch.setattr(svc, "_SAMPLE_IDS", 160)
    ids = session.execute(select(Profile.id).where(Profile.full_name.like("P%"))).scalars().all()
    flt = ProfileFilter(member_level="Gold", profile_ids=list(ids))
    exact = count_profiles(session=session, actor=VIEWER, flt=flt)
    estimate = estimate_count(session=session, actor=VIEWER, flt=flt)
    assert exact == 400
    assert not estimate.exact
    assert estimate.low <= estimate.value <= estimate.high
    assert abs(estimate.value - exact) <= 0.25 * exact


# ---------------------------------------------------------------- cells, 360, status


def test_page_cells_show_identities_tags_and_attributes(session, world):
    rows = session.exec(select(Profile).where(Profile.id.in_(world.ids[:2])).order_by(Profile.id)).all()
    cells = page_cells(
        session=session,
        rows=rows,
        columns=["full_name", "identity:email", f"tag:{world.interest}", f"tag:{world.stage}", "points", "birthday"],
    )
    assert cells[0] == {
        "id": str(world.ids[0]),
        "full_name": "Nguyễn Văn An",
        "identity:email": "an@example.com",
        f"tag:{world.interest}": "Travel, Sports",
        f"tag:{world.stage}": "Loyal",
        "points": "10",
        "birthday": "1990-03-12",
    }
    assert cells[1][f"tag:{world.interest}"] == ""


def test_user_360_has_everything_about_the_person(session, world):
    data = get_profile_360(session=session, actor=VIEWER, profile_id=world.ids[0])
    assert data.header.full_name == "Nguyễn Văn An"
    assert {(i.kind, i.value) for i in data.identities} == {
        ("email", "an@example.com"),
        ("phone", "+84912345001"),
        ("user_id", "U001"),
    }
    assert sorted(t.value for t in data.tags) == ["Loyal", "Sports", "Travel"]
    assert [g.name for g in data.groups] == ["VIP Club"]
    assert [(f.key, f.value) for f in data.fields][:1] == [("full_name", "Nguyễn Văn An")]
    with pytest.raises(ProfileError, match="does not exist"):
        get_profile_360(session=session, actor=VIEWER, profile_id=999_999)


def test_deactivate_hides_from_the_list_and_reactivate_brings_back(session, world):
    set_profile_status(session=session, actor=MARKETER, profile_id=world.ids[0], active=False)
    session.commit()
    assert "Nguyễn Văn An" not in listed(session, ProfileFilter())
    set_profile_status(session=session, actor=MARKETER, profile_id=world.ids[0], active=True)
    session.commit()
    assert "Nguyễn Văn An" in listed(session, ProfileFilter())
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.object_id == str(world.ids[0]))).all()
    assert actions == ["profile.deactivate", "profile.reactivate"]
    with pytest.raises(PermissionDenied):
        set_profile_status(session=session, actor=VIEWER, profile_id=world.ids[0], active=False)


# ---------------------------------------------------------------- tagging and groups


def _tags(session, tag_id: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for pid, value in session.execute(
        select(ProfileTag.profile_id, ProfileTag.value).where(ProfileTag.tag_id == tag_id).order_by(ProfileTag.value)
    ).all():
        out.setdefault(pid, []).append(value)
    return out


def test_batch_tag_replaces_a_text_value_and_adds_a_multi_value(session, world):
    w = world
    assert (
        tag_profiles(
            session=session,
            actor=MARKETER,
            tag_id=w.stage,
            value="VIP",
            policy="ignore",
            profile_ids=[w.ids[0], w.ids[3]],
        )
        == 2
    )
    assert (
        tag_profiles(
            session=session, actor=MARKETER, tag_id=w.interest, value="Food", policy="overwrite", profile_ids=[w.ids[0]]
        )
        == 1
    )
    session.commit()
    stage, interest = _tags(session, w.stage), _tags(session, w.interest)
    assert stage[w.ids[0]] == ["VIP"] and stage[w.ids[3]] == ["VIP"] and stage[w.ids[1]] == ["New"]
    assert interest[w.ids[0]] == ["Food", "Sports", "Travel"]
    row = session.exec(select(ProfileTag).where(ProfileTag.tag_id == w.stage, ProfileTag.profile_id == w.ids[0])).one()
    assert (row.source, row.policy, row.created_by) == ("manual", "ignore", MARKETER.user_id)
    audit = session.exec(
        select(AuditEvent).where(AuditEvent.action == "profile.tag", AuditEvent.object_type == "tag")
    ).all()
    assert [e.details["profiles"] for e in audit] == [2, 1]


def test_batch_tag_all_matching_a_filter_and_untag(session, world):
    w = world
    assert (
        tag_profiles(
            session=session, actor=MARKETER, tag_id=w.stage, value="Gold member", flt=ProfileFilter(member_level="Gold")
        )
        == 3
    )
    session.commit()
    assert set(listed(session, ProfileFilter(tag_values={w.stage: "Gold member"}))) == {
        "Nguyễn Văn An",
        "Trần Minh Châu",
        "Võ Thanh Hà",
    }
    assert untag_profile(session=session, actor=MARKETER, profile_id=w.ids[0], tag_id=w.stage) == 1
    with pytest.raises(ProfileError, match="either"):
        tag_profiles(session=session, actor=MARKETER, tag_id=w.stage, value="x")
    with pytest.raises(ProfileError, match="Choose a value"):
        tag_profiles(session=session, actor=MARKETER, tag_id=w.interest, value="", profile_ids=[w.ids[0]])
    with pytest.raises(PermissionDenied):
        tag_profiles(session=session, actor=VIEWER, tag_id=w.stage, value="x", profile_ids=[w.ids[0]])


@pytest.mark.parametrize(
    "policy, after_import",
    [
        ("overwrite", "Churned"),  # the data wins: the import replaces the batch tag
        ("ignore", "VIP"),  # this tag wins: the import leaves it
    ],
)
def test_batch_tag_policy_decides_what_a_later_import_does(session, world, policy, after_import):
    w = world
    tag_profiles(session=session, actor=MARKETER, tag_id=w.stage, value="VIP", policy=policy, profile_ids=[w.ids[0]])
    session.commit()
    frame = validated([{"email": "an@example.com", "city": "Hà Nội"}])
    run_import(
        session, frame, sync=rule(session, ["email"]), options=ImportOptions(tag_ids=[w.stage], tag_value="Churned")
    )
    assert _tags(session, w.stage)[w.ids[0]] == [after_import]


def test_add_to_group_by_ids_or_filter(session, world):
    w = world
    assert (
        add_profiles_to_group(session=session, actor=MARKETER, group_id=w.vip, profile_ids=[w.ids[0], w.ids[1]]) == 1
    )  # An is a member already
    assert (
        add_profiles_to_group(session=session, actor=MARKETER, group_id=w.vip, flt=ProfileFilter(member_level="Bronze"))
        == 2
    )
    session.commit()
    assert len(listed(session, ProfileFilter(group_id=w.vip))) == 6
    with pytest.raises(ProfileError, match="does not exist"):
        add_profiles_to_group(session=session, actor=MARKETER, group_id=w.vip, profile_ids=[999_999])
    with pytest.raises(PermissionDenied):
        add_profiles_to_group(session=session, actor=VIEWER, group_id=w.vip, profile_ids=[w.ids[0]])
