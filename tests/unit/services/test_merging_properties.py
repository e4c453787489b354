"""Property: after a merge and any sequence of edits, imports, tags, consent changes and later
merges into the survivor, unmerge gives the merged profile back exactly, and the survivor
its data from before the merge except the later changes, each of which the unmerge report
lists (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from profile_ui.models import Consent, Group, GroupMembership, Segment, SegmentMember, utcnow
from profile_ui.services.importing import ImportOptions
from profile_ui.services.merge_snapshot import COLLECTIONS, rows_by_key, same_row, snapshot_profiles
from profile_ui.services.merging import merge_profiles, unmerge
from profile_ui.services.profile_edit import set_consent, update_profile_fields
from profile_ui.services.profiles import tag_profiles
from tests.unit.services.importing.frames import (
    MARKETER,
    ensure_custom_fields,
    give_tag,
    make_tag,
    rule,
    run_import,
    seed_profiles,
    validated,
)

CITIES = ["Hanoi", "Hue", "Da Nang", None]
LEVELS = ["Gold", "Silver", None]
TAG_VALUES = ["A", "B", "C"]
CHANNELS = ["email", "sms"]
STATUSES = ["granted", "denied"]

side = st.fixed_dictionaries(
    {
        "city": st.sampled_from(CITIES),
        "member_level": st.sampled_from(LEVELS),
        "score": st.sampled_from([None, 1, 2]),
        "tags": st.sets(st.sampled_from(TAG_VALUES), max_size=2),
        "segment": st.booleans(),
        "group": st.sampled_from([None, "active", "invited"]),
        "consent": st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from(STATUSES), max_size=2),
    }
)
step = st.one_of(
    st.tuples(st.just("edit"), st.just("city"), st.sampled_from(["Huế", "Hanoi"])),
    st.tuples(st.just("edit"), st.just("member_level"), st.sampled_from(["Gold", "Platinum"])),
    st.tuples(st.just("import"), st.sampled_from(["survivor", "merged"]), st.sampled_from(["Saigon", "Hue"])),
    st.tuples(st.just("tag"), st.sampled_from(TAG_VALUES), st.just("")),
    st.tuples(st.just("consent"), st.sampled_from(CHANNELS), st.sampled_from(STATUSES)),
    st.tuples(st.just("merge_third"), side, st.just("")),  # another profile merged into the survivor
)


class Workspace:
    """Tags, a segment, a group and a sync rule shared by every example of one test."""

    def __init__(self, session: Session) -> None:
        ensure_custom_fields(session)
        self.tag = make_tag(session, "Props", f"Interest {uuid.uuid4().hex[:6]}", kind="multi")
        self.segment = Segment(name=f"seg-{uuid.uuid4().hex[:6]}")
        self.group = Group(name=f"grp-{uuid.uuid4().hex[:6]}")
        session.add_all([self.segment, self.group])
        session.flush()
        self.sync = rule(session, ["email"])
        session.commit()


def seed(session: Session, ws: Workspace, name: str, data: dict) -> tuple[int, str]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@x.com"
    (pid,) = seed_profiles(
        session,
        [
            {
                "full_name": name,
                "email": email,
                "city": data["city"],
                "member_level": data["member_level"],
                "attributes": {} if data["score"] is None else {"score": data["score"]},
            }
        ],
    )
    for value in sorted(data["tags"]):
        give_tag(session, pid, ws.tag, value=value)
    if data["segment"]:
        session.execute(
            sa.insert(SegmentMember).values(segment_id=ws.segment.id, profile_id=pid, value=name, added_at=utcnow())
        )
    if data["group"]:
        session.execute(
            sa.insert(GroupMembership).values(
                group_id=ws.group.id, profile_id=pid, state=data["group"], updated_at=utcnow()
            )
        )
    for channel, status in data["consent"].items():
        session.execute(
            sa.insert(Consent).values(
                profile_id=pid, channel=channel, status=status, source="seed", updated_at=utcnow()
            )
        )
    session.commit()
    return pid, email


def comparable_rows(name: str, snapshot: dict) -> dict:
    collection = next(c for c in COLLECTIONS if c.name == name)
    return rows_by_key(collection, snapshot)


def fields(snapshot: dict) -> dict:
    profile = snapshot["profile"]
    values = {k: profile.get(k) for k in ("full_name", "city", "member_level", "gender", "birthday")}
    values.update(profile.get("attributes") or {})
    return {k: v for k, v in values.items() if v not in (None, "", [])}


def without_stamps(snapshot: dict) -> dict:
    out = {"profile": {k: v for k, v in snapshot["profile"].items() if k not in ("updated_at", "version")}}
    for c in COLLECTIONS:
        rows = rows_by_key(c, snapshot)
        out[c.name] = {k: {f: v for f, v in row.items() if f != "last_seen_at"} for k, row in rows.items()}
    return out


@pytest.fixture
def workspace(session):
    return Workspace(session)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    survivor=side,
    merged=side,
    take_merged=st.sets(st.sampled_from(["city", "member_level", "score"])),
    steps=st.lists(step, max_size=4),
)
def test_unmerge_restores_both_except_the_reported_later_changes(
    session, workspace, survivor, merged, take_merged, steps
):
    ws = workspace
    s, s_email = seed(session, ws, "Sam", survivor)
    m, m_email = seed(session, ws, "Max", merged)
    before = snapshot_profiles(session, [s, m])
    chosen = {k: merged.get(k) for k in take_merged}
    result = merge_profiles(
        session=session, actor=MARKETER, survivor_id=s, merged_id=m, chosen_values=chosen, reason="property test"
    )
    session.commit()

    for kind, a, b in steps:
        if kind == "edit":
            update_profile_fields(session=session, actor=MARKETER, profile_id=s, values={a: b})
        elif kind == "import":
            email = s_email if a == "survivor" else m_email
            run_import(session, validated([{"email": email, "city": b}]), sync=ws.sync, options=ImportOptions())
        elif kind == "merge_third":
            third, _email = seed(session, ws, "Tia", a)
            merge_profiles(session=session, actor=MARKETER, survivor_id=s, merged_id=third, reason="later")
        elif kind == "tag":
            tag_profiles(session=session, actor=MARKETER, profile_ids=[s], tag_id=ws.tag, value=a)
        else:
            set_consent(session=session, actor=MARKETER, profile_id=s, channel=a, status=b)
        session.commit()

    report = unmerge(session=session, actor=MARKETER, merge_id=result.merge_id)
    session.commit()
    after = snapshot_profiles(session, [s, m])

    # the merged profile: exactly as before the merge
    assert without_stamps(after[m]) == without_stamps(before[m])

    # the survivor: as before the merge, except what the report lists as changed since
    reported_fields = {c.key for c in report.later_changes if c.what == "field"}
    now_fields, then_fields = fields(after[s]), fields(before[s])
    for key in set(now_fields) | set(then_fields):
        if now_fields.get(key) != then_fields.get(key):
            assert key in reported_fields, (key, then_fields.get(key), now_fields.get(key), report)
    for collection in COLLECTIONS:
        if collection.name == "provenance":
            continue
        reported = {c.key for c in report.later_changes if c.what == collection.name}
        now_rows, then_rows = rows_by_key(collection, after[s]), rows_by_key(collection, before[s])
        for key in set(now_rows) | set(then_rows):
            if not same_row(collection, now_rows.get(key), then_rows.get(key)):
                assert repr(key) in reported, (collection.name, key, report)
    if not steps:
        assert report.later_changes == []
        assert without_stamps(after[s])["profile"] == without_stamps(before[s])["profile"]
