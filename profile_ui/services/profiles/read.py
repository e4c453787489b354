"""User 360: everything the page shows about one person, read in one call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

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
from .errors import ProfileError

# ---------------------------------------------------------------- User 360


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


def get_profile_360(*, session: Session, actor: Actor, profile_id: int) -> dict[str, Any]:
    """Everything the User 360 page shows about one person.

    Keys: profile, fields (FieldDefinition list in display order), identities,
    identity_values {identity id: the value as shown, decrypted when stored encrypted},
    tags [(ProfileTag, Tag, TagGroup)], segments [(Segment, SegmentMember)],
    groups [(Group, GroupMembership)], consent, linked, provenance {field key:
    AttributeProvenance} (`locked` = hand-edited, imports leave it), history (latest
    100 audit events about the profile, newest first), imports (what the latest 100
    applied imports did to the person: ProfileImportRow, newest first).
    """
    actor.require(PROFILES_VIEW)
    profile = session.get(Profile, profile_id)
    if profile is None or profile.status == STATUS_DELETED:
        raise ProfileError(f"Profile {profile_id} does not exist")
    identities = session.exec(
        select(Identity).where(Identity.profile_id == profile_id).order_by(Identity.kind, Identity.id)
    ).all()
    tags = session.exec(
        select(ProfileTag, Tag, TagGroup)
        .join(Tag, Tag.id == ProfileTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(ProfileTag.profile_id == profile_id)
        .order_by(TagGroup.name, Tag.name, ProfileTag.value)
    ).all()
    segments = session.exec(
        select(Segment, SegmentMember)
        .join(SegmentMember, SegmentMember.segment_id == Segment.id)
        .where(SegmentMember.profile_id == profile_id)
        .order_by(Segment.name)
    ).all()
    groups = session.exec(
        select(Group, GroupMembership)
        .join(GroupMembership, GroupMembership.group_id == Group.id)
        .where(GroupMembership.profile_id == profile_id)
        .order_by(Group.name)
    ).all()
    consent = session.exec(select(Consent).where(Consent.profile_id == profile_id).order_by(Consent.channel)).all()
    linked = session.exec(
        select(LinkedObject)
        .where(LinkedObject.profile_id == profile_id)
        .order_by(LinkedObject.object_type, LinkedObject.name)
    ).all()
    provenance = session.exec(select(AttributeProvenance).where(AttributeProvenance.profile_id == profile_id)).all()
    history = session.exec(
        select(AuditEvent)
        .where(AuditEvent.object_type == "profile", AuditEvent.object_id == str(profile_id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(100)
    ).all()
    # imports write one audit event per file, not per person: the person's own row results
    # say what each applied import did to them (dry runs and unfinished jobs left out)
    imports = session.exec(
        select(
            ImportJob.id,
            ImportJob.kind,
            ImportJob.file_name,
            ImportJob.status,
            ImportJob.finished_at,
            User.email,
            ImportRowResult.row_number,
            ImportRowResult.outcome,
            ImportRowResult.changes,
        )
        .join(ImportJob, ImportJob.id == ImportRowResult.job_id)
        .outerjoin(User, User.id == ImportJob.created_by)
        .where(
            ImportRowResult.profile_id == profile_id,
            ImportJob.status.in_(("completed", "undone")),
            ImportJob.finished_at.is_not(None),
        )
        .order_by(ImportJob.finished_at.desc(), ImportJob.id.desc())
        .limit(100)
    ).all()
    fields = session.exec(select(FieldDefinition).order_by(FieldDefinition.position, FieldDefinition.key)).all()
    return {
        "profile": profile,
        "fields": list(fields),
        "identities": list(identities),
        "identity_values": {
            i.id: display_identity_value(i.value, i.value_encrypted, i.key_id, i.is_encrypted) for i in identities
        },
        "tags": list(tags),
        "segments": list(segments),
        "groups": list(groups),
        "consent": list(consent),
        "linked": list(linked),
        "provenance": {p.field_key: p for p in provenance},
        "history": list(history),
        "imports": [ProfileImportRow(*row) for row in imports],
    }
