"""User 360: everything the page shows about one person, as a typed `Profile360`.

`get_profile_360` reads the eight sections (fields with their locks, identities, tags,
segments, groups, consent, linked objects, history and what imports did) in one call,
as plain values: nothing in a `Profile360` is an ORM object, so it can be kept after the
session closes. An edit returns the sections it changed in the same types
(profile_edit.FieldEdit), so the page need not read all of this again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import (
    STATUS_DELETED,
    AttributeProvenance,
    AuditEvent,
    Consent,
    FieldDefinition,
    Group,
    GroupMembership,
    Identity,
    ImportJob,
    ImportRowResult,
    LinkedObject,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
    User,
)
from ..permissions import PROFILES_VIEW, Actor
from .cells import display_identity_value
from .errors import ProfileError, checked_id

HISTORY_LIMIT = 100  # audit events, and import rows, shown per person


@dataclass(frozen=True)
class ProfileHeader:
    """The person's own row: what the page's title and header show, and the version an
    edit from the page is checked against (profile_edit.ProfileChanged)."""

    id: int
    version: int
    full_name: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    initial_source: str | None

    @classmethod
    def of(cls, profile: Profile) -> ProfileHeader:
        return cls(
            id=checked_id(profile.id),
            version=profile.version,
            full_name=profile.full_name,
            status=profile.status,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
            initial_source=profile.initial_source,
        )


@dataclass(frozen=True)
class FieldValue:
    """One field of the person: its definition's words, the stored value and whether it is
    locked (edited by hand: imports leave it until an admin unlocks it)."""

    key: str
    label: str
    type: str
    options: list[str]
    value: Any  # str | float | bool | date | datetime | list[str] | None
    locked: bool


@dataclass(frozen=True)
class IdentityEntry:
    id: int
    kind: str
    value: str  # as shown: decrypted when stored encrypted (a marker when it cannot be)
    source_type: str
    source_name: str | None
    is_encrypted: bool
    key_id: str | None
    first_seen_at: datetime


@dataclass(frozen=True)
class TagEntry:
    tag_id: int
    group: str
    name: str
    value: str
    source: str
    policy: str | None  # what later imports do with it: overwrite | ignore


@dataclass(frozen=True)
class Membership:
    """A group or segment the person is in; `detail` is the group membership's state or
    the segment member's value."""

    id: int
    name: str
    detail: str


@dataclass(frozen=True)
class ConsentEntry:
    channel: str
    status: str
    source: str | None


@dataclass(frozen=True)
class LinkedEntry:
    id: int
    name: str
    object_type: str
    external_id: str | None


@dataclass(frozen=True)
class HistoryEvent:
    """One audit event about the person."""

    at: datetime
    actor_email: str | None
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ProfileImportRow:
    """One applied import's row for a person: which file, who ran it, and what it did."""

    job_id: int
    kind: str
    file_name: str
    status: str  # completed | undone
    finished_at: datetime
    by_email: str | None
    row_number: int
    outcome: str
    changes: dict


@dataclass(frozen=True)
class Profile360:
    """Everything the User 360 page shows about one person, each list in display order:
    fields by position, identities by kind, tags by group and name, memberships by name,
    history newest first (the latest HISTORY_LIMIT events and import rows)."""

    header: ProfileHeader
    fields: list[FieldValue]
    identities: list[IdentityEntry]
    tags: list[TagEntry] = field(default_factory=list)
    segments: list[Membership] = field(default_factory=list)
    groups: list[Membership] = field(default_factory=list)
    consent: list[ConsentEntry] = field(default_factory=list)
    linked: list[LinkedEntry] = field(default_factory=list)
    history: list[HistoryEvent] = field(default_factory=list)
    imports: list[ProfileImportRow] = field(default_factory=list)


def field_values(
    session: Session, profile: Profile, definitions: list[FieldDefinition], *, keys: set[str] | None = None
) -> list[FieldValue]:
    """The profile's fields as the page shows them (only `keys` when given), in the order
    of `definitions`, with their locks."""
    wanted = [d for d in definitions if keys is None or d.key in keys]
    locked_query = select(AttributeProvenance.field_key).where(
        AttributeProvenance.profile_id == profile.id, col(AttributeProvenance.locked).is_(True)
    )
    if keys is not None:
        locked_query = locked_query.where(col(AttributeProvenance.field_key).in_(sorted(keys)))
    locked = set(session.exec(locked_query).all())
    attributes = profile.attributes or {}
    return [
        FieldValue(
            key=d.key,
            label=d.label,
            type=d.type,
            options=list(d.options or []),
            value=getattr(profile, d.key) if d.is_system else attributes.get(d.key),
            locked=d.key in locked,
        )
        for d in wanted
    ]


def ordered_fields(session: Session) -> list[FieldDefinition]:
    """The field definitions in the order User 360 shows them."""
    return list(session.exec(select(FieldDefinition).order_by(col(FieldDefinition.position), col(FieldDefinition.key))))


def get_profile_360(*, session: Session, actor: Actor, profile_id: int) -> Profile360:
    """Everything the User 360 page shows about one person (see `Profile360`).

    Raises ProfileError when the profile does not exist or is in the trash.
    """
    actor.require(PROFILES_VIEW)
    profile = session.get(Profile, profile_id)
    if profile is None or profile.status == STATUS_DELETED:
        raise ProfileError(f"Profile {profile_id} does not exist")
    return Profile360(
        header=ProfileHeader.of(profile),
        fields=field_values(session, profile, ordered_fields(session)),
        identities=_identities(session, profile_id),
        tags=_tags(session, profile_id),
        segments=_segments(session, profile_id),
        groups=_groups(session, profile_id),
        consent=[
            ConsentEntry(c.channel, c.status, c.source)
            for c in session.exec(
                select(Consent).where(Consent.profile_id == profile_id).order_by(col(Consent.channel))
            )
        ],
        linked=[
            LinkedEntry(checked_id(o.id), o.name, o.object_type, o.external_id)
            for o in session.exec(
                select(LinkedObject)
                .where(LinkedObject.profile_id == profile_id)
                .order_by(col(LinkedObject.object_type), col(LinkedObject.name))
            )
        ],
        history=_history(session, profile_id),
        imports=_imports(session, profile_id),
    )


def _identities(session: Session, profile_id: int) -> list[IdentityEntry]:
    rows = session.exec(
        select(Identity).where(Identity.profile_id == profile_id).order_by(col(Identity.kind), col(Identity.id))
    ).all()
    return [
        IdentityEntry(
            id=checked_id(i.id),
            kind=i.kind,
            value=display_identity_value(i.value, i.value_encrypted, i.key_id, i.is_encrypted),
            source_type=i.source_type,
            source_name=i.source_name,
            is_encrypted=i.is_encrypted,
            key_id=i.key_id,
            first_seen_at=i.first_seen_at,
        )
        for i in rows
    ]


def _tags(session: Session, profile_id: int) -> list[TagEntry]:
    rows = session.exec(
        select(ProfileTag, Tag, TagGroup)
        .join(Tag, col(Tag.id) == ProfileTag.tag_id)
        .join(TagGroup, col(TagGroup.id) == Tag.group_id)
        .where(ProfileTag.profile_id == profile_id)
        .order_by(col(TagGroup.name), col(Tag.name), col(ProfileTag.value))
    ).all()
    return [
        TagEntry(checked_id(tag.id), group.name, tag.name, profile_tag.value, profile_tag.source, profile_tag.policy)
        for profile_tag, tag, group in rows
    ]


def _segments(session: Session, profile_id: int) -> list[Membership]:
    rows = session.exec(
        select(Segment, SegmentMember)
        .join(SegmentMember, col(SegmentMember.segment_id) == Segment.id)
        .where(SegmentMember.profile_id == profile_id)
        .order_by(col(Segment.name))
    ).all()
    return [Membership(checked_id(segment.id), segment.name, member.value or "") for segment, member in rows]


def _groups(session: Session, profile_id: int) -> list[Membership]:
    rows = session.exec(
        select(Group, GroupMembership)
        .join(GroupMembership, col(GroupMembership.group_id) == Group.id)
        .where(GroupMembership.profile_id == profile_id)
        .order_by(col(Group.name))
    ).all()
    return [Membership(checked_id(group.id), group.name, member.state) for group, member in rows]


def _history(session: Session, profile_id: int) -> list[HistoryEvent]:
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.object_type == "profile", AuditEvent.object_id == str(profile_id))
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [HistoryEvent(e.at, e.actor_email, e.action, dict(e.details or {})) for e in events]


def _imports(session: Session, profile_id: int) -> list[ProfileImportRow]:
    # imports write one audit event per file, not per person: the person's own row results
    # say what each applied import did to them (dry runs and unfinished jobs left out)
    rows = session.execute(
        sa.select(
            col(ImportJob.id),
            col(ImportJob.kind),
            col(ImportJob.file_name),
            col(ImportJob.status),
            col(ImportJob.finished_at),
            col(User.email),
            col(ImportRowResult.row_number),
            col(ImportRowResult.outcome),
            col(ImportRowResult.changes),
        )
        .join(ImportJob, col(ImportJob.id) == ImportRowResult.job_id)
        .outerjoin(User, col(User.id) == ImportJob.created_by)
        .where(
            col(ImportRowResult.profile_id) == profile_id,
            col(ImportJob.status).in_(("completed", "undone")),
            col(ImportJob.finished_at).is_not(None),
        )
        .order_by(col(ImportJob.finished_at).desc(), col(ImportJob.id).desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [
        ProfileImportRow(
            job_id=checked_id(job_id),
            kind=kind,
            file_name=file_name,
            status=status,
            finished_at=finished_at,
            by_email=by_email,
            row_number=row_number,
            outcome=outcome,
            changes=changes,
        )
        for job_id, kind, file_name, status, finished_at, by_email, row_number, outcome, changes in rows
        if finished_at is not None
    ]
