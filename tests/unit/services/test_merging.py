"""Merging two profiles and undoing it, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import (
    AuditEvent,
    Consent,
    GroupMembership,
    Identity,
    LinkedObject,
    Profile,
    ProfileMerge,
    ProfileTag,
    SegmentMember,
)
from profile_ui.services.merge_snapshot import snapshot_profiles
from profile_ui.services.merging import (
    MergeError,
    find_merge,
    merge_profiles,
    merged_away,
    merges_into,
    preview_merge,
    unmerge,
)
from profile_ui.services.permissions import BUILTIN_ROLES, PROFILES_MERGE, PermissionDenied
from profile_ui.services.profile_edit import add_identity, update_profile_fields
from profile_ui.services.profiles import tag_profiles
from tests.unit.profile_world import build_world

# columns every write stamps anew: not part of what a person would call "the data"
STAMPS = ("updated_at", "version")


def comparable(snapshot: dict) -> dict:
    """A snapshot without update stamps (and without volatile identity times)."""
    profile = {k: v for k, v in snapshot["profile"].items() if k not in STAMPS}
    out = {"profile": profile}
    for name, rows in snapshot.items():
        if name == "profile":
            continue
        out[name] = sorted(sorted((k, repr(v)) for k, v in row.items() if k != "last_seen_at") for row in rows)
    return out


@pytest.fixture
def world(session):
    return build_world(session)


def test_marketers_and_admins_may_merge_viewers_may_not():
    assert PROFILES_MERGE in BUILTIN_ROLES["marketer"][1]
    assert PROFILES_MERGE in BUILTIN_ROLES["admin"][1]
    assert PROFILES_MERGE not in BUILTIN_ROLES["viewer"][1]


def test_viewer_cannot_preview_merge_or_unmerge(session, world):
    for call in (
        lambda: preview_merge(session=session, actor=world.viewer, survivor_id=world.an, merged_id=world.formula),
        lambda: merge_profiles(
            session=session, actor=world.viewer, survivor_id=world.an, merged_id=world.formula, reason="same"
        ),
        lambda: unmerge(session=session, actor=world.viewer, merge_id=1),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert session.execute(sa.select(sa.func.count()).select_from(ProfileMerge)).scalar_one() == 0


def test_preview_shows_fields_side_by_side_with_a_suggestion(session, world):
    preview = preview_merge(session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an)
    by_key = {f.key: f for f in preview.fields}
    assert not by_key["full_name"].same and by_key["full_name"].suggested == "survivor"
    assert by_key["member_level"].suggested == "merged" and by_key["member_level"].suggested_value == "Gold"
    assert by_key["birthday"].merged_value == "1990-05-17" and by_key["registered_at"].merged_text == "2024-01-02 03:04"
    assert by_key["loyalty_points"].survivor_value == -5 and by_key["loyalty_points"].merged_value == 120
    assert "email an@example.com" in preview.merged_identities
    assert preview.merged_counts["tags"] == 4 and preview.survivor_counts["tags"] == 1


def test_merge_moves_everything_and_hides_the_merged_profile(session, world):
    result = merge_profiles(
        session=session,
        actor=world.marketer,
        survivor_id=world.formula,
        merged_id=world.an,
        chosen_values={"full_name": "An Nguyễn", "loyalty_points": 120},
        reason="Same phone owner, confirmed by call",
    )
    session.commit()
    survivor = session.get(Profile, world.formula)
    session.refresh(survivor)
    assert survivor.full_name == "An Nguyễn"
    assert survivor.member_level == "Gold"  # survivor had none: taken from the merged profile
    assert survivor.city == "@SUM(1+1)*cmd|' /C calc'!A0"  # survivor's own value kept
    assert survivor.attributes["loyalty_points"] == 120 and survivor.attributes["vip"] is True
    assert result.changes["full_name"][1] == "An Nguyễn"
    owners = dict(session.execute(sa.select(Identity.value, Identity.profile_id)).all())
    assert owners["an@example.com"] == world.formula and owners["U001"] == world.formula
    for model in (SegmentMember, GroupMembership, Consent, LinkedObject):
        assert (
            session.execute(
                sa.select(sa.func.count()).select_from(model).where(model.profile_id == world.an)
            ).scalar_one()
            == 0
        ), model
    merged = session.get(Profile, world.an)
    session.refresh(merged)
    assert merged.status == "deleted" and merged.deleted_reason == f"merged into {world.formula}"
    away = merged_away(session=session, actor=world.viewer, profile_id=world.an)
    assert away.survivor_id == world.formula and away.merge_id == result.merge_id
    info = merges_into(session=session, actor=world.viewer, profile_id=world.formula)
    assert [(i.merged_id, i.merged_by, i.reason) for i in info] == [
        (world.an, "marketer@team.example", "Same phone owner, confirmed by call")
    ]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "profile.merge")).all()
    assert len(events) == 1 and events[0].details["merge_id"] == result.merge_id


def test_bad_merges_are_refused_with_a_reason(session, world):
    with pytest.raises(MergeError, match="itself"):
        merge_profiles(session=session, actor=world.marketer, survivor_id=world.an, merged_id=world.an, reason="x")
    with pytest.raises(MergeError, match="does not exist"):
        merge_profiles(session=session, actor=world.marketer, survivor_id=world.an, merged_id=world.gone, reason="x")
    with pytest.raises(MergeError, match="why"):
        merge_profiles(
            session=session, actor=world.marketer, survivor_id=world.an, merged_id=world.formula, reason="  "
        )
    with pytest.raises(MergeError, match="neither profile's value"):
        merge_profiles(
            session=session,
            actor=world.marketer,
            survivor_id=world.an,
            merged_id=world.formula,
            chosen_values={"city": "Paris"},
            reason="same",
        )


def test_unmerge_gives_both_profiles_back(session, world):
    before = snapshot_profiles(session, [world.an, world.formula])
    result = merge_profiles(
        session=session,
        actor=world.marketer,
        survivor_id=world.formula,
        merged_id=world.an,
        chosen_values={"full_name": "An Nguyễn"},
        reason="same",
    )
    session.commit()
    undone = unmerge(session=session, actor=world.marketer, merge_id=result.merge_id)
    session.commit()
    after = snapshot_profiles(session, [world.an, world.formula])
    assert comparable(after[world.an]) == comparable(before[world.an])
    assert comparable(after[world.formula]) == comparable(before[world.formula])
    assert undone.later_changes == [] and "full_name" in undone.restored_fields
    for pid in (world.an, world.formula):  # a page showing a profile before the merge cannot save over it
        assert after[pid]["profile"]["version"] > before[pid]["profile"]["version"]
    assert session.get(ProfileMerge, result.merge_id).undone_at is not None
    with pytest.raises(MergeError, match="already undone"):
        unmerge(session=session, actor=world.marketer, merge_id=result.merge_id)
    actions = [
        e.action
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.object_id == str(world.an)).order_by(AuditEvent.id)
        ).all()
    ]
    assert actions[-2:] == ["profile.merged_into", "profile.unmerge"]


def test_unmerge_keeps_and_reports_later_changes_to_the_survivor(session, world):
    before = snapshot_profiles(session, [world.an, world.formula])
    result = merge_profiles(
        session=session,
        actor=world.marketer,
        survivor_id=world.formula,
        merged_id=world.an,
        chosen_values={"full_name": "An Nguyễn"},
        reason="same",
    )
    update_profile_fields(session=session, actor=world.marketer, profile_id=world.formula, values={"city": "Huế"})
    add_identity(
        session=session, actor=world.marketer, profile_id=world.formula, kind="email", value="later@example.com"
    )
    tag_profiles(
        session=session, actor=world.marketer, profile_ids=[world.formula], tag_id=world.interest_tag, value="Books"
    )
    session.commit()
    undone = unmerge(session=session, actor=world.marketer, merge_id=result.merge_id)
    session.commit()
    after = snapshot_profiles(session, [world.an, world.formula])
    assert comparable(after[world.an]) == comparable(before[world.an])
    survivor = session.get(Profile, world.formula)
    session.refresh(survivor)
    assert survivor.full_name == before[world.formula]["profile"]["full_name"]
    assert survivor.city == "Huế"
    texts = " | ".join(c.text for c in undone.later_changes)
    assert "City" in texts and "later@example.com" in texts and "Books" in texts
    assert {i.value for i in session.exec(select(Identity).where(Identity.profile_id == world.formula))} == {
        "formula@example.com",
        "+84907654321",
        "later@example.com",
    }


def test_an_identity_taken_by_another_profile_since_is_reported(session, world):
    result = merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an, reason="same"
    )
    identity = session.exec(select(Identity).where(Identity.value == "U001")).one()
    identity.profile_id = world.resting
    session.add(identity)
    session.commit()
    undone = unmerge(session=session, actor=world.marketer, merge_id=result.merge_id)
    assert any("U001" in text and str(world.resting) in text for text in undone.not_restored)


def test_survivor_merged_again_must_be_unmerged_first(session, world):
    first = merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an, reason="same"
    )
    merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.resting, merged_id=world.formula, reason="same again"
    )
    session.commit()
    with pytest.raises(MergeError, match="undo that merge first"):
        unmerge(session=session, actor=world.marketer, merge_id=first.merge_id)
    latest = find_merge(session=session, actor=world.marketer, survivor_id=world.resting, merged_id=world.formula)
    unmerge(session=session, actor=world.marketer, merge_id=latest.merge_id)
    unmerge(session=session, actor=world.marketer, merge_id=first.merge_id)
    session.commit()
    assert session.get(Profile, world.an).status == "active"
    assert session.get(Profile, world.formula).status == "active"


def test_duplicate_tags_stay_and_come_back(session, world):
    session.add(ProfileTag(profile_id=world.formula, tag_id=world.interest_tag, value="Travel"))
    session.commit()
    before = snapshot_profiles(session, [world.an, world.formula])
    result = merge_profiles(
        session=session, actor=world.admin, survivor_id=world.formula, merged_id=world.an, reason="same"
    )
    tags = session.exec(
        select(ProfileTag.value).where(ProfileTag.profile_id == world.formula, ProfileTag.tag_id == world.interest_tag)
    ).all()
    assert sorted(tags) == ["Fashion", "Travel"]
    unmerge(session=session, actor=world.admin, merge_id=result.merge_id)
    session.commit()
    after = snapshot_profiles(session, [world.an, world.formula])
    assert comparable(after[world.an]) == comparable(before[world.an])
    assert comparable(after[world.formula]) == comparable(before[world.formula])


def test_a_merge_made_by_a_sync_rule_during_an_import_can_be_undone(session):
    from profile_ui.services.importing import ImportOptions
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

    ensure_custom_fields(session)
    ann, bob = seed_profiles(
        session,
        [
            {"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi"},
            {"full_name": "Bob", "phone": "+84901", "city": "Hue", "attributes": {"score": 3}},
        ],
    )
    give_tag(session, bob, make_tag(session, "Manual", "Friend"))
    session.add(Consent(profile_id=bob, channel="sms", status="granted"))
    session.commit()
    before = snapshot_profiles(session, [ann, bob])
    sync = rule(session, ["email", "phone"])
    run_import(
        session,
        validated([{"email": "ann@x.com", "phone": "+84901", "full_name": "Ann B"}]),
        sync=sync,
        options=ImportOptions(auto_merge=True),
    )
    session.commit()
    record = session.exec(select(ProfileMerge)).one()
    assert (record.survivor_id, record.merged_id, record.source) == (ann, bob, "import-sync-rule")
    assert "people.xlsx" in record.reason and record.changed_fields == ["score"]

    undone = unmerge(session=session, actor=MARKETER, merge_id=record.id)
    session.commit()
    after = snapshot_profiles(session, [ann, bob])
    assert comparable(after[bob]) == comparable(before[bob])
    # the file's own change to the survivor stays, and is reported
    assert after[ann]["profile"]["full_name"] == "Ann B"
    assert [c.key for c in undone.later_changes] == ["full_name"]
    expected = comparable(before[ann])
    expected["profile"].update(full_name="Ann B", name_folded="ann b")
    got = comparable(after[ann])
    got["provenance"], expected["provenance"] = [], []  # the file is the source of the name now
    assert got == expected


def test_a_merged_profile_stays_out_of_the_purge_while_the_merge_can_be_undone(session, world):
    from datetime import timedelta

    from profile_ui.models import utcnow
    from profile_ui.services.trash import purge_expired

    result = merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an, reason="same"
    )
    session.commit()
    later = utcnow() + timedelta(days=400)
    purge_expired(session=session, actor=world.admin, now=later)
    session.commit()
    assert session.get(Profile, world.an) is not None  # kept: the merge can still be undone
    assert session.get(Profile, world.gone) is None  # an ordinary deleted profile is purged
    unmerge(session=session, actor=world.admin, merge_id=result.merge_id)
    session.commit()
    assert session.get(Profile, world.an).status == "active"


def test_erasing_the_survivor_erases_the_merged_profile_and_the_merge_snapshots(session, world):
    from profile_ui.services.deletion import erase_profile

    result = merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an, reason="same"
    )
    session.commit()
    erase_profile(session=session, actor=world.admin, profile_id=world.formula, reason="Request by e-mail ticket 7")
    session.commit()
    assert session.get(Profile, world.an) is None and session.get(Profile, world.formula) is None
    record = session.get(ProfileMerge, result.merge_id)
    session.refresh(record)
    assert record.merged_before == {} and record.survivor_before == {} and record.survivor_after == {}
    assert "An Nguyễn" not in repr(record.model_dump())
    with pytest.raises(MergeError, match="erased"):
        unmerge(session=session, actor=world.admin, merge_id=result.merge_id)


def test_the_pages_say_who_merged_what_and_what_the_unmerge_kept(session, world):
    from profile_ui.pages.profiles.merge_state import merged_from_text, unmerge_summary
    from profile_ui.services.merging import merge_of_event

    result = merge_profiles(
        session=session, actor=world.marketer, survivor_id=world.formula, merged_id=world.an, reason="Same phone owner"
    )
    update_profile_fields(session=session, actor=world.marketer, profile_id=world.formula, values={"city": "Huế"})
    session.commit()
    (info,) = merges_into(session=session, actor=world.viewer, profile_id=world.formula)
    text = merged_from_text(info)
    assert text.startswith(f"Merged from #{world.an} (An Nguyễn) on ")
    assert text.endswith("by marketer@team.example by hand, because: Same phone owner")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profile.merge")).one()
    assert merge_of_event(session=session, actor=world.admin, event_id=event.id).merge_id == result.merge_id
    with pytest.raises(PermissionDenied):
        merge_of_event(session=session, actor=world.marketer, event_id=event.id)  # no audit log access
    lines = unmerge_summary(unmerge(session=session, actor=world.marketer, merge_id=result.merge_id))
    assert lines[0] == f"Profile #{world.an} is back as it was before the merge."
    assert any(line.startswith(f"Kept on #{world.formula}: City:") and "Huế" in line for line in lines)
