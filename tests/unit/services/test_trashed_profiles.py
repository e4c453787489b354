"""A profile in the trash cannot be changed: every service that changes a profile refuses
it with a message that says so, and leaves it exactly as it was deleted, so a restore
brings back its tags, groups, fields, identities and consent (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.models import AuditEvent, Consent, GroupMembership, Identity, Profile, ProfileTag
from profile_ui.services import profile_edit, profiles
from profile_ui.services.profiles import ProfileError, ProfileFilter
from tests.unit.profile_world import World, build_world


@pytest.fixture
def world(session: Session) -> World:
    world = build_world(session)
    # the deleted profile had a tag, a group membership and consent when it went to the trash
    session.add_all(
        [
            ProfileTag(profile_id=world.gone, tag_id=world.stage_tag, value="Loyal"),
            GroupMembership(group_id=world.group, profile_id=world.gone, state="active"),
            Consent(profile_id=world.gone, channel="email", status="granted"),
        ]
    )
    session.commit()
    return world


def _state(session: Session, profile_id: int) -> tuple:
    """Everything of a profile the services below could change."""

    def rows(model: type, *columns: sa.ColumnElement) -> list:
        return sorted(session.execute(sa.select(*columns).where(model.profile_id == profile_id)).all())

    profile = session.get(Profile, profile_id)
    session.refresh(profile)
    return (
        profile.status,
        profile.full_name,
        profile.city,
        dict(profile.attributes or {}),
        rows(ProfileTag, ProfileTag.tag_id, ProfileTag.value),
        rows(GroupMembership, GroupMembership.group_id, GroupMembership.state),
        rows(Identity, Identity.kind, Identity.value),
        rows(Consent, Consent.channel, Consent.status),
    )


def _identity_id(session: Session, profile_id: int) -> int:
    return session.execute(sa.select(Identity.id).where(Identity.profile_id == profile_id)).scalar_one()


CHANGES: dict[str, Callable[[Session, World], object]] = {
    "edit fields": lambda s, w: profile_edit.update_profile_fields(
        session=s, actor=w.marketer, profile_id=w.gone, values={"city": "Huế"}
    ),
    "unlock a field": lambda s, w: profile_edit.unlock_field(
        session=s, actor=w.admin, profile_id=w.gone, field_key="city"
    ),
    "set consent": lambda s, w: profile_edit.set_consent(
        session=s, actor=w.marketer, profile_id=w.gone, channel="email", status="denied"
    ),
    "add an identity": lambda s, w: profile_edit.add_identity(
        session=s, actor=w.marketer, profile_id=w.gone, kind="phone", value="+84905550000"
    ),
    "remove an identity": lambda s, w: profile_edit.remove_identity(
        session=s, actor=w.marketer, profile_id=w.gone, identity_id=_identity_id(s, w.gone)
    ),
    "deactivate": lambda s, w: profiles.set_profile_status(
        session=s, actor=w.marketer, profile_id=w.gone, active=False
    ),
    "tag": lambda s, w: profiles.tag_profiles(
        session=s, actor=w.marketer, tag_id=w.interest_tag, value="Travel", profile_ids=[w.an, w.gone]
    ),
    "tag the trash by filter": lambda s, w: profiles.tag_profiles(
        session=s, actor=w.marketer, tag_id=w.interest_tag, value="Travel", flt=ProfileFilter(status="deleted")
    ),
    "untag": lambda s, w: profiles.untag_profile(session=s, actor=w.marketer, profile_id=w.gone, tag_id=w.stage_tag),
    "add to a group": lambda s, w: profiles.add_profiles_to_group(
        session=s, actor=w.marketer, group_id=w.group, profile_ids=[w.gone]
    ),
    "remove from a group": lambda s, w: profiles.remove_profile_from_group(
        session=s, actor=w.marketer, group_id=w.group, profile_id=w.gone
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_profile_in_the_trash_is_refused_and_left_as_it_was(session, world, change):
    before, an_before = _state(session, world.gone), _state(session, world.an)
    events = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(
        ProfileError,
        match="in the trash and cannot be changed: restore it|in the trash cannot be changed: restore them",
    ):
        CHANGES[change](session, world)
    session.rollback()
    assert _state(session, world.gone) == before
    assert _state(session, world.an) == an_before  # a bulk action with a trashed profile changes none
    assert session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == events


def test_a_missing_profile_still_says_it_does_not_exist(session, world):
    with pytest.raises(ProfileError, match="Profile 999999 does not exist"):
        profiles.untag_profile(session=session, actor=world.marketer, profile_id=999999, tag_id=world.stage_tag)
