"""Settings > Tags: tag groups and their tags ("text": one value per profile, "multi":
several), and the values a tag already has (the tag dialog's suggestions).

Reading needs profiles.view; a change needs settings.manage. Deleting a tag or a group
removes it from every profile in one statement.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import ProfileTag, Tag, TagGroup
from ..permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .common import SettingsError, audit_change, clean_name, get_or_refuse, require_unique_name, rows_changed

TAG_KINDS = ("text", "multi")  # text: one value per profile; multi: several values


def list_tag_groups(*, session: Session, actor: Actor) -> list[tuple[TagGroup, list[Tag]]]:
    """Every tag group with its tags, by name (for the tag dialog and the filters)."""
    actor.require(PROFILES_VIEW)
    groups = session.exec(select(TagGroup).order_by(col(TagGroup.name))).all()
    tags = session.exec(select(Tag).order_by(col(Tag.name))).all()
    by_group: dict[int, list[Tag]] = {}
    for tag in tags:
        by_group.setdefault(tag.group_id, []).append(tag)
    return [(group, by_group.get(group.id or 0, [])) for group in groups]


def create_tag_group(*, session: Session, actor: Actor, name: str) -> TagGroup:
    actor.require(SETTINGS_MANAGE)
    name = clean_name(name, "tag group")
    require_unique_name(session, TagGroup, name, "tag group")
    group = TagGroup(name=name)
    session.add(group)
    session.flush()
    audit_change(session, actor, "tag_group.create", "tag_group", group.id, name=name)
    return group


def rename_tag_group(*, session: Session, actor: Actor, group_id: int, name: str) -> TagGroup:
    actor.require(SETTINGS_MANAGE)
    group = get_or_refuse(session, TagGroup, group_id, "tag group")
    name = clean_name(name, "tag group")
    require_unique_name(session, TagGroup, name, "tag group", exclude_id=group_id)
    before, group.name = group.name, name
    session.add(group)
    session.flush()
    audit_change(session, actor, "tag_group.rename", "tag_group", group_id, before=before, after=name)
    return group


def delete_tag_group(*, session: Session, actor: Actor, group_id: int) -> int:
    """Delete a tag group, its tags and those tags on every profile; returns how many
    profile tags went."""
    actor.require(SETTINGS_MANAGE)
    group = get_or_refuse(session, TagGroup, group_id, "tag group")
    tag_ids = list(session.exec(select(col(Tag.id)).where(col(Tag.group_id) == group_id)).all())
    removed = 0
    if tag_ids:
        removed = rows_changed(session, sa.delete(ProfileTag).where(col(ProfileTag.tag_id).in_(tag_ids)))
        session.execute(sa.delete(Tag).where(col(Tag.id).in_(tag_ids)))
    session.delete(group)
    session.flush()
    audit_change(
        session,
        actor,
        "tag_group.delete",
        "tag_group",
        group_id,
        name=group.name,
        tags=len(tag_ids),
        profile_tags_removed=removed,
    )
    return removed


def create_tag(*, session: Session, actor: Actor, group_id: int, name: str, kind: str = "text") -> Tag:
    """A tag in a group: "text" holds one value per profile, "multi" several."""
    actor.require(SETTINGS_MANAGE)
    get_or_refuse(session, TagGroup, group_id, "tag group")
    name = clean_name(name, "tag")
    if kind not in TAG_KINDS:
        raise SettingsError(f"A tag is 'text' (one value) or 'multi' (several values), not '{kind}'")
    require_unique_name(session, Tag, name, "tag in this group", group_id=group_id)
    tag = Tag(group_id=group_id, name=name, kind=kind)
    session.add(tag)
    session.flush()
    audit_change(session, actor, "tag.create", "tag", tag.id, name=name, kind=kind, group_id=group_id)
    return tag


def update_tag(*, session: Session, actor: Actor, tag_id: int, name: str | None = None, kind: str | None = None) -> Tag:
    """Rename a tag or change its kind; multi -> text only while no profile holds two values."""
    actor.require(SETTINGS_MANAGE)
    tag = get_or_refuse(session, Tag, tag_id, "tag")
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = clean_name(name, "tag")
        if name != tag.name:
            require_unique_name(session, Tag, name, "tag in this group", exclude_id=tag_id, group_id=tag.group_id)
            changes["name"] = [tag.name, name]
            tag.name = name
    if kind is not None and kind != tag.kind:
        if kind not in TAG_KINDS:
            raise SettingsError(f"A tag is 'text' (one value) or 'multi' (several values), not '{kind}'")
        if kind == "text":
            several = session.execute(
                select(ProfileTag.profile_id)
                .where(col(ProfileTag.tag_id) == tag_id)
                .group_by(col(ProfileTag.profile_id))
                .having(sa.func.count() > 1)
                .limit(1)
            ).first()
            if several is not None:
                raise SettingsError(f"Some profiles hold several values of '{tag.name}': it must stay multi-value")
        changes["kind"] = [tag.kind, kind]
        tag.kind = kind
    if changes:
        session.add(tag)
        session.flush()
        audit_change(session, actor, "tag.update", "tag", tag_id, changes=changes)
    return tag


def delete_tag(*, session: Session, actor: Actor, tag_id: int) -> int:
    """Delete a tag and remove it from every profile; returns how many profile tags went."""
    actor.require(SETTINGS_MANAGE)
    tag = get_or_refuse(session, Tag, tag_id, "tag")
    removed = rows_changed(session, sa.delete(ProfileTag).where(col(ProfileTag.tag_id) == tag_id))
    session.delete(tag)
    session.flush()
    audit_change(session, actor, "tag.delete", "tag", tag_id, name=tag.name, profile_tags_removed=removed)
    return removed


def tag_value_suggestions(*, session: Session, actor: Actor, tag_id: int, limit: int = 50) -> list[str]:
    """Values a tag already has (for the tag dialog's value list), most used first,
    read from at most 20,000 of its profiles so the dialog opens fast; any other
    value can still be typed."""
    actor.require(PROFILES_VIEW)
    sample = select(ProfileTag.value).where(ProfileTag.tag_id == tag_id).limit(20_000).subquery()
    rows = session.execute(
        select(sample.c.value, sa.func.count().label("n"))
        .group_by(sample.c.value)
        .order_by(sa.desc("n"), sample.c.value)
        .limit(limit)
    ).all()
    return [value for value, _ in rows if value]
