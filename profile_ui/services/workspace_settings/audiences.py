"""Settings > Segments and groups: the named audiences. A segment comes from a segment
file, a saved filter or this screen; a group is an audience imports add profiles to.
Deleting one removes its memberships, never a profile.

Reading needs profiles.view; a change needs settings.manage.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import Group, GroupMembership, ImportJob, Segment, SegmentMember
from ..permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .common import SettingsError, audit_change, clean_name, get_or_refuse, require_unique_name, rows_changed


def list_segments(*, session: Session, actor: Actor) -> list[Segment]:
    actor.require(PROFILES_VIEW)
    return list(session.exec(select(Segment).order_by(col(Segment.name))).all())


def create_segment(
    *, session: Session, actor: Actor, name: str, description: str = "", filter: dict[str, Any] | None = None
) -> Segment:
    """A segment; `filter` (ProfileFilter.to_json()) saves the list filter it stands for."""
    actor.require(SETTINGS_MANAGE)
    name = clean_name(name, "segment")
    require_unique_name(session, Segment, name, "segment")
    segment = Segment(
        name=name,
        description=(description or "").strip()[:500],
        source="filter" if filter else "manual",
        filter=filter or None,
    )
    session.add(segment)
    session.flush()
    audit_change(session, actor, "segment.create", "segment", segment.id, name=name, filter=filter)
    return segment


def _update_audience(
    session: Session, actor: Actor, row: Segment | Group, kind: str, name: str | None, description: str | None
) -> None:
    """Rename / re-describe a segment or group (same rules for both); audit what changed."""
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = clean_name(name, kind)
        require_unique_name(session, type(row), name, kind, exclude_id=row.id)
        if name != row.name:
            changes["name"] = [row.name, name]
            row.name = name
    if description is not None and description.strip()[:500] != row.description:
        changes["description"] = [row.description, description.strip()[:500]]
        row.description = description.strip()[:500]
    if changes:
        session.add(row)
        session.flush()
        audit_change(session, actor, f"{kind}.update", kind, row.id, changes=changes)


def update_segment(
    *, session: Session, actor: Actor, segment_id: int, name: str | None = None, description: str | None = None
) -> Segment:
    actor.require(SETTINGS_MANAGE)
    segment = get_or_refuse(session, Segment, segment_id, "segment")
    _update_audience(session, actor, segment, "segment", name, description)
    return segment


def delete_segment(*, session: Session, actor: Actor, segment_id: int) -> None:
    """Delete a segment and its memberships (profiles stay)."""
    actor.require(SETTINGS_MANAGE)
    segment = get_or_refuse(session, Segment, segment_id, "segment")
    members = rows_changed(session, sa.delete(SegmentMember).where(col(SegmentMember.segment_id) == segment_id))
    session.delete(segment)
    session.flush()
    audit_change(session, actor, "segment.delete", "segment", segment_id, name=segment.name, members=members)


def list_groups(*, session: Session, actor: Actor) -> list[Group]:
    actor.require(PROFILES_VIEW)
    return list(session.exec(select(Group).order_by(col(Group.name))).all())


def create_group(*, session: Session, actor: Actor, name: str, description: str = "") -> Group:
    actor.require(SETTINGS_MANAGE)
    name = clean_name(name, "group")
    require_unique_name(session, Group, name, "group")
    group = Group(name=name, description=(description or "").strip()[:500])
    session.add(group)
    session.flush()
    audit_change(session, actor, "group.create", "group", group.id, name=name)
    return group


def update_group(
    *, session: Session, actor: Actor, group_id: int, name: str | None = None, description: str | None = None
) -> Group:
    actor.require(SETTINGS_MANAGE)
    group = get_or_refuse(session, Group, group_id, "group")
    _update_audience(session, actor, group, "group", name, description)
    return group


def delete_group(*, session: Session, actor: Actor, group_id: int) -> None:
    """Delete a group and its memberships (profiles stay)."""
    actor.require(SETTINGS_MANAGE)
    group = get_or_refuse(session, Group, group_id, "group")
    if session.execute(select(ImportJob.id).where(col(ImportJob.group_id) == group_id).limit(1)).first():
        raise SettingsError(f"Imports were made into '{group.name}': it cannot be deleted")
    members = rows_changed(session, sa.delete(GroupMembership).where(col(GroupMembership.group_id) == group_id))
    session.delete(group)
    session.flush()
    audit_change(session, actor, "group.delete", "group", group_id, name=group.name, members=members)
