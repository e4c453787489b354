"""User 360: listing, reading, deactivating and tagging profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import (
    AttributeProvenance, AuditEvent, Consent, Group, GroupMembership, Identity, LinkedObject,
    Profile, ProfileTag, Segment, SegmentMember, Tag, TagGroup, utcnow,
    STATUS_ACTIVE, STATUS_DEACTIVATED, STATUS_DELETED,
)
from .audit import record_event
from .permissions import PROFILES_EDIT, PROFILES_TAG, PROFILES_VIEW, Actor

SORTABLE_COLUMNS = {
    "created_at": Profile.created_at, "updated_at": Profile.updated_at,
    "full_name": Profile.full_name, "member_level": Profile.member_level,
    "city": Profile.city, "registered_at": Profile.registered_at, "id": Profile.id,
}
PAGE_SIZES = (25, 50, 100)
TAG_POLICIES = ("overwrite", "ignore")


class ProfileError(ValueError):
    """Bad input for a profile operation; the message is safe to show."""


@dataclass
class ProfileFilter:
    """The list's query box and filters (all optional)."""

    text: str = ""  # user id, e-mail, phone or name
    status: str = STATUS_ACTIVE
    group_id: int | None = None
    member_level: str | None = None
    tag_ids: list[int] = field(default_factory=list)
    segment_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    profile_ids: list[int] | None = None  # a selection


def _identity_matches(kind: str, value: str):  # noqa: ANN202
    return sa.exists().where(Identity.profile_id == Profile.id, Identity.kind == kind,
                             Identity.value == value)


def _text_condition(text: str):  # noqa: ANN202
    from .importing.normalize import InvalidValue, normalize_email, normalize_phone

    text = text.strip()
    conditions = [_identity_matches("user_id", text)]
    for looks_like, normalize, kind in (("@" in text, normalize_email, "email"),
                                        (any(ch.isdigit() for ch in text), normalize_phone, "phone")):
        if not looks_like:
            continue
        try:
            value = normalize(text)
        except InvalidValue:  # not a whole e-mail/phone: the other conditions may still match
            value = None
        if value:
            conditions.append(_identity_matches(kind, value))
    # names: prefix match (uses the status+name index); case-insensitive
    conditions.append(sa.func.lower(Profile.full_name).like(f"{text.lower()}%"))
    return sa.or_(*conditions)


def filter_condition(flt: ProfileFilter):  # noqa: ANN201
    """The WHERE clause of a filter; exporting and bulk actions reuse it."""
    conditions = [Profile.status == flt.status]
    if flt.text.strip():
        conditions.append(_text_condition(flt.text))
    if flt.member_level:
        conditions.append(Profile.member_level == flt.member_level)
    if flt.group_id:
        conditions.append(sa.exists().where(GroupMembership.profile_id == Profile.id,
                                            GroupMembership.group_id == flt.group_id))
    for tag_id in flt.tag_ids:
        conditions.append(sa.exists().where(ProfileTag.profile_id == Profile.id,
                                            ProfileTag.tag_id == tag_id))
    if flt.segment_id:
        conditions.append(sa.exists().where(SegmentMember.profile_id == Profile.id,
                                            SegmentMember.segment_id == flt.segment_id))
    if flt.created_from:
        conditions.append(Profile.created_at >= flt.created_from)
    if flt.created_to:
        conditions.append(Profile.created_at < flt.created_to)
    if flt.profile_ids is not None:
        conditions.append(Profile.id.in_(flt.profile_ids))
    return sa.and_(*conditions)


@dataclass
class ProfilePage:
    rows: list[Profile]
    total: int
    page: int
    page_size: int


def list_profiles(
    *, session: Session, actor: Actor, flt: ProfileFilter, sort: str = "created_at",
    descending: bool = True, page: int = 1, page_size: int = 50,
) -> ProfilePage:
    actor.require(PROFILES_VIEW)
    if sort not in SORTABLE_COLUMNS:
        raise ProfileError(f"Cannot sort by '{sort}'")
    page_size = page_size if page_size in PAGE_SIZES else 50
    page = max(page, 1)
    where = filter_condition(flt)
    column = SORTABLE_COLUMNS[sort]
    order = [column.desc(), Profile.id.desc()] if descending else [column.asc(), Profile.id.asc()]
    rows = session.exec(
        select(Profile).where(where).order_by(*order).offset((page - 1) * page_size).limit(page_size)
    ).all()
    total = count_profiles(session=session, actor=actor, flt=flt)
    return ProfilePage(rows=list(rows), total=total, page=page, page_size=page_size)


def count_profiles(*, session: Session, actor: Actor, flt: ProfileFilter) -> int:
    actor.require(PROFILES_VIEW)
    return session.exec(
        select(sa.func.count()).select_from(Profile).where(filter_condition(flt))
    ).one()


def identities_of(*, session: Session, profile_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{profile id: {kind: [values]}} for a page of profiles, in one query."""
    result: dict[int, dict[str, list[str]]] = {pid: {} for pid in profile_ids}
    if not profile_ids:
        return result
    rows = session.exec(
        select(Identity.profile_id, Identity.kind, Identity.value)
        .where(Identity.profile_id.in_(profile_ids)).order_by(Identity.id)
    ).all()
    for pid, kind, value in rows:
        result[pid].setdefault(kind, []).append(value)
    return result


def get_profile_360(*, session: Session, actor: Actor, profile_id: int) -> dict[str, Any]:
    """Everything the User 360 page shows about one person."""
    actor.require(PROFILES_VIEW)
    profile = session.get(Profile, profile_id)
    if profile is None or profile.status == STATUS_DELETED:
        raise ProfileError(f"Profile {profile_id} does not exist")
    identities = session.exec(select(Identity).where(Identity.profile_id == profile_id)
                              .order_by(Identity.kind, Identity.id)).all()
    tags = session.exec(
        select(ProfileTag, Tag, TagGroup).join(Tag, Tag.id == ProfileTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(ProfileTag.profile_id == profile_id).order_by(TagGroup.name, Tag.name)
    ).all()
    segments = session.exec(
        select(Segment, SegmentMember).join(SegmentMember, SegmentMember.segment_id == Segment.id)
        .where(SegmentMember.profile_id == profile_id).order_by(Segment.name)
    ).all()
    groups = session.exec(
        select(Group, GroupMembership).join(GroupMembership, GroupMembership.group_id == Group.id)
        .where(GroupMembership.profile_id == profile_id).order_by(Group.name)
    ).all()
    consent = session.exec(select(Consent).where(Consent.profile_id == profile_id)
                           .order_by(Consent.channel)).all()
    linked = session.exec(select(LinkedObject).where(LinkedObject.profile_id == profile_id)
                          .order_by(LinkedObject.object_type, LinkedObject.name)).all()
    provenance = session.exec(select(AttributeProvenance)
                              .where(AttributeProvenance.profile_id == profile_id)).all()
    history = session.exec(
        select(AuditEvent).where(AuditEvent.object_type == "profile",
                                 AuditEvent.object_id == str(profile_id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)
    ).all()
    return {
        "profile": profile, "identities": list(identities), "tags": list(tags),
        "segments": list(segments), "groups": list(groups), "consent": list(consent),
        "linked": list(linked), "provenance": {p.field_key: p for p in provenance},
        "history": list(history),
    }


def set_profile_status(*, session: Session, actor: Actor, profile_id: int, active: bool) -> Profile:
    """Deactivate (hidden from lists, reversible) or reactivate a profile."""
    actor.require(PROFILES_EDIT)
    profile = session.get(Profile, profile_id)
    if profile is None or profile.status == STATUS_DELETED:
        raise ProfileError(f"Profile {profile_id} does not exist")
    new_status = STATUS_ACTIVE if active else STATUS_DEACTIVATED
    if profile.status != new_status:
        profile.status = new_status
        profile.updated_at = utcnow()
        session.add(profile)
        record_event(session=session, actor=actor,
                     action="profile.reactivate" if active else "profile.deactivate",
                     object_type="profile", object_id=profile_id)
    return profile


def tag_profiles(
    *, session: Session, actor: Actor, profile_ids: list[int], tag_id: int, value: str = "",
    policy: str = "ignore",
) -> int:
    """Give a tag (with a value) to profiles; returns how many got it.

    `policy` is what later imports do with this tag: "overwrite" (the data wins) or
    "ignore" (this manual tag wins). A text tag holds one value per profile, so the
    new value replaces the old one; a multi-value tag adds the value.
    """
    actor.require(PROFILES_TAG)
    if policy not in TAG_POLICIES:
        raise ProfileError(f"Unknown policy '{policy}'")
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise ProfileError(f"Tag {tag_id} does not exist")
    ids = sorted(set(profile_ids))
    if not ids:
        return 0
    now = utcnow()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        if tag.kind == "text":
            session.execute(sa.delete(ProfileTag).where(ProfileTag.tag_id == tag_id,
                                                        ProfileTag.profile_id.in_(chunk)))
        else:
            session.execute(sa.delete(ProfileTag).where(
                ProfileTag.tag_id == tag_id, ProfileTag.profile_id.in_(chunk),
                ProfileTag.value == value))
        session.execute(sa.insert(ProfileTag), [
            {"profile_id": pid, "tag_id": tag_id, "value": value, "source": "manual",
             "policy": policy, "created_by": actor.user_id, "created_at": now}
            for pid in chunk
        ])
    record_event(session=session, actor=actor, action="profile.tag", object_type="tag",
                 object_id=tag_id, details={"profiles": len(ids), "value": value,
                                            "policy": policy, "profile_ids": ids[:100]})
    if len(ids) == 1:
        record_event(session=session, actor=actor, action="profile.tag", object_type="profile",
                     object_id=ids[0], details={"tag": tag.name, "value": value, "policy": policy})
    return len(ids)
