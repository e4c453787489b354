"""Deleting profiles (1..100 with a reason), immediate purge without a trash, and GDPR
erasure (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.models import (
    AuditEvent,
    Consent,
    GroupMembership,
    Identity,
    ImportJob,
    ImportRowResult,
    LinkedObject,
    Profile,
    ProfileTag,
    SegmentMember,
    utcnow,
)
from profile_ui.services.deletion import (
    MAX_REASON_LENGTH,
    DeletionError,
    delete_profiles,
    erase_profile,
)
from profile_ui.services.exporting import preview_export
from profile_ui.services.permissions import PermissionDenied
from profile_ui.services.profiles import ProfileFilter, count_profiles, list_profiles
from profile_ui.settings import get_settings
from tests.unit.profile_world import World, add_profiles, build_world, count_rows


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def test_deleted_profile_leaves_lists_search_and_exports_and_loses_its_links(session, world):
    result = delete_profiles(
        session=session, actor=world.admin, profile_ids=[world.an], reason="  Customer asked   to be removed "
    )
    session.commit()

    assert result.profile_ids == [world.an] and result.links_removed == 2 and not result.purged
    profile = session.get(Profile, world.an)
    assert profile.status == "deleted" and profile.deleted_by == world.admin.user_id
    assert profile.deleted_reason == "Customer asked to be removed" and profile.deleted_at is not None
    for flt in (
        ProfileFilter(),
        ProfileFilter(text="an@example.com"),
        ProfileFilter(text="An Ng"),
        ProfileFilter(tag_ids=[world.stage_tag]),
        ProfileFilter(group_id=world.group),
        ProfileFilter(segment_id=world.segment),
    ):
        page = list_profiles(session=session, actor=world.admin, flt=flt)
        assert world.an not in [p.id for p in page.rows]
    assert count_profiles(session=session, actor=world.admin, flt=ProfileFilter(text="an@example.com")) == 0
    assert preview_export(session=session, actor=world.admin, flt=ProfileFilter(), columns=["full_name"]).count == 1
    # links go for good; what a restore needs stays, unseen
    assert count_rows(session, LinkedObject, LinkedObject.profile_id == world.an) == 0
    assert count_rows(session, Identity, Identity.profile_id == world.an) == 3
    assert count_rows(session, ProfileTag, ProfileTag.profile_id == world.an) == 4
    assert count_rows(session, SegmentMember, SegmentMember.profile_id == world.an) == 1
    assert count_rows(session, GroupMembership, GroupMembership.profile_id == world.an) == 1
    assert count_rows(session, Consent, Consent.profile_id == world.an) == 1


def test_deletion_writes_one_audit_event_with_actor_reason_and_ids(session, world):
    ids = add_profiles(session, 3)
    delete_profiles(session=session, actor=world.admin, profile_ids=ids, reason="Duplicates")
    session.commit()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.delete")).one()
    assert event.actor_email == "admin@team.example" and event.actor_id == world.admin.user_id
    assert event.reason == "Duplicates" and event.at is not None
    assert event.details["profile_ids"] == ids and event.details["count"] == 3


def test_one_hundred_profiles_at_once_and_not_one_more(session, world):
    ids = add_profiles(session, 101)
    with pytest.raises(DeletionError, match="at most 100 profiles.*101"):
        delete_profiles(session=session, actor=world.admin, profile_ids=ids, reason="cleanup")
    session.rollback()
    assert count_rows(session, Profile, Profile.status == "deleted") == 1  # only the world's own

    result = delete_profiles(session=session, actor=world.admin, profile_ids=ids[:100], reason="cleanup")
    session.commit()
    assert len(result.profile_ids) == 100
    assert count_rows(session, Profile, Profile.status == "deleted") == 101


@pytest.mark.parametrize("reason", ["", "   ", "\n\t", None])
def test_a_reason_is_mandatory(session, world, reason):
    with pytest.raises(DeletionError, match="reason"):
        delete_profiles(session=session, actor=world.admin, profile_ids=[world.an], reason=reason)
    assert session.get(Profile, world.an).status == "active"


def test_a_reason_has_a_maximum_length(session, world):
    with pytest.raises(DeletionError, match=f"at most {MAX_REASON_LENGTH}"):
        delete_profiles(
            session=session, actor=world.admin, profile_ids=[world.an], reason="x" * (MAX_REASON_LENGTH + 1)
        )


def test_no_selection_unknown_or_already_deleted_profiles_are_refused(session, world):
    with pytest.raises(DeletionError, match="at least one"):
        delete_profiles(session=session, actor=world.admin, profile_ids=[], reason="r")
    with pytest.raises(DeletionError, match="999999"):
        delete_profiles(session=session, actor=world.admin, profile_ids=[world.an, 999999], reason="r")
    with pytest.raises(DeletionError, match=str(world.gone)):
        delete_profiles(session=session, actor=world.admin, profile_ids=[world.gone], reason="r")
    assert session.get(Profile, world.an).status == "active"


@pytest.mark.parametrize("who", ["viewer", "marketer"])
def test_viewers_and_marketers_may_not_delete(session, world, who):
    with pytest.raises(PermissionDenied, match="profiles.delete"):
        delete_profiles(session=session, actor=getattr(world, who), profile_ids=[world.an], reason="r")


def test_without_a_trash_deletion_is_immediate_and_irreversible(session, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "trash_retention_days", 0)
    result = delete_profiles(session=session, actor=world.admin, profile_ids=[world.an], reason="GDPR request")
    session.commit()
    assert result.purged
    assert session.get(Profile, world.an) is None
    assert count_rows(session, Identity, Identity.value == "an@example.com") == 0
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.delete")).one()
    assert event.details["purged_at_once"] is True


# ---------------------------------------------------------------- GDPR erasure
def _import_row_with_values(session: Session, profile_id: int) -> int:
    job = ImportJob(batch_id="b", file_name="people.csv", status="completed", counts={})
    session.add(job)
    session.flush()
    session.add(
        ImportRowResult(
            job_id=job.id,
            row_number=2,
            outcome="updated",
            profile_id=profile_id,
            changes={"city": ["Huế", "Hà Nội"], "@identities": ["an@example.com"]},
            errors=[{"column": "E-mail", "message": "an@example.com was..."}],
        )
    )
    session.commit()
    return job.id


def test_erasure_removes_personal_data_for_good_and_audits_without_it(session, world):
    job_id = _import_row_with_values(session, world.an)
    erase_profile(session=session, actor=world.admin, profile_id=world.an, reason="GDPR erasure request #4711")
    session.commit()

    assert session.get(Profile, world.an) is None
    for model in (Identity, ProfileTag, Consent, SegmentMember, GroupMembership, LinkedObject):
        assert count_rows(session, model, model.profile_id == world.an) == 0
    leftover = session.exec(select(ImportRowResult).where(ImportRowResult.job_id == job_id)).one()
    assert leftover.changes == {} and leftover.errors == []
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profile.erase")).one()
    assert event.object_id == str(world.an) and event.reason == "GDPR erasure request #4711"
    assert event.actor_email == "admin@team.example"
    recorded = json.dumps(event.details, ensure_ascii=False) + (event.reason or "")
    for personal in ("an@example.com", "+84901234567", "U001", "An Nguyễn", "Hà Nội"):
        assert personal not in recorded
    assert event.details["identities_removed"] == {"email": 1, "phone": 1, "user_id": 1}


def test_erasure_works_from_the_trash_too(session, world):
    erase_profile(session=session, actor=world.admin, profile_id=world.gone, reason="Request 12")
    session.commit()
    assert session.get(Profile, world.gone) is None
    assert count_rows(session, Identity, Identity.value == "gone@example.com") == 0


@pytest.mark.parametrize("reason", ["asked by an@example.com", "An Nguyễn asked", "call +84901234567", "", "  "])
def test_erasure_reason_may_not_hold_personal_data_and_is_mandatory(session, world, reason):
    with pytest.raises(DeletionError, match="personal data|reason"):
        erase_profile(session=session, actor=world.admin, profile_id=world.an, reason=reason)
    assert session.get(Profile, world.an) is not None


@pytest.mark.parametrize("who", ["viewer", "marketer"])
def test_only_admins_may_erase(session, world, who):
    with pytest.raises(PermissionDenied):
        erase_profile(session=session, actor=getattr(world, who), profile_id=world.an, reason="r")
    assert session.get(Profile, world.an) is not None


def test_erasing_an_unknown_profile_is_refused(session, world):
    with pytest.raises(DeletionError, match="does not exist"):
        erase_profile(session=session, actor=world.admin, profile_id=999999, reason="request")


def test_deleted_at_is_when_it_happened(session, world):
    before = utcnow()
    delete_profiles(session=session, actor=world.admin, profile_ids=[world.formula], reason="r")
    session.commit()
    deleted_at = session.execute(sa.select(Profile.deleted_at).where(Profile.id == world.formula)).scalar_one()
    assert before <= deleted_at <= utcnow()
