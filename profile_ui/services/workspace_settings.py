"""Workspace settings: fields, tag groups and tags, segments, groups, the sync rule,
identity kinds, consent channels, users and roles.

Reading the catalogues (fields, tags, segments, groups, identity kinds) needs only
profiles.view, because the list, the create form and the tag dialog show them; every
change needs settings.manage and writes an audit event in the caller's transaction.
Functions raise SettingsError (a message for the admin) on bad input.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import (
    CHOICE_TYPES,
    FIELD_TYPES,
    MERGE_POLICIES,
    AttributeProvenance,
    FieldDefinition,
    Group,
    GroupMembership,
    Identity,
    IdentityKind,
    ImportJob,
    Profile,
    ProfileTag,
    Role,
    Segment,
    SegmentMember,
    SyncRule,
    Tag,
    TagGroup,
    User,
    utcnow,
)
from .attribute_sort import drop_sort_index, ensure_sort_index, sortable_key
from .audit import record_event
from .catalog import field_definitions, identity_kinds, saved_sync_rule
from .importing.normalize import fold_text
from .permissions import (
    ALL_PERMISSIONS,
    PROFILES_VIEW,
    SETTINGS_MANAGE,
    Actor,
    export_identity_permission,
)
from .users import change_role, create_user, list_users, unlock_user  # noqa: F401  (re-exported: users and roles)

CONSENT_CHANNELS = ("email", "sms", "push", "phone")  # fixed channels, no table
CONSENT_CHANNEL_LABELS = {"email": "E-mail", "sms": "SMS", "push": "Push notification", "phone": "Phone call"}
CONSENT_STATUSES = ("granted", "denied", "unknown")
TAG_KINDS = ("text", "multi")  # text: one value per profile; multi: several values
NAME_MAX = 128
KEY_MAX = 64
_RESERVED_KEYS = set(Profile.__table__.c.keys()) | {"identity", "identities", "tag", "tags"}


class SettingsError(ValueError):
    """A settings change that cannot be made; the message is for the admin."""


def _audit(session: Session, actor: Actor, action: str, object_type: str, object_id: Any, **details: Any) -> None:
    record_event(
        session=session,
        actor=actor,
        action=f"settings.{action}",
        object_type=object_type,
        object_id=object_id,
        details=details,
    )


def _name(value: str, what: str, limit: int = NAME_MAX) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise SettingsError(f"Enter a name for the {what}")
    if len(name) > limit:
        raise SettingsError(f"A {what} name can have at most {limit} characters")
    return name


def make_key(label: str) -> str:
    """A field or identity-kind key from its label: "Điểm thưởng" -> "diem_thuong"."""
    key = re.sub(r"[^a-z0-9]+", "_", fold_text(label)).strip("_")[:KEY_MAX].strip("_")
    if key and key[0].isdigit():
        key = f"f_{key}"[:KEY_MAX]
    return key


def _check_key(key: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key or ""):
        raise SettingsError(f"'{key}' cannot be a key: use lower-case letters, digits and _, starting with a letter")
    return key


# ---------------------------------------------------------------- fields


def list_fields(*, session: Session, actor: Actor) -> list[FieldDefinition]:
    """All fields (system first, then custom) in display order."""
    actor.require(PROFILES_VIEW)
    return list(field_definitions(session).values())


def required_on_create(*, session: Session, actor: Actor) -> list[FieldDefinition]:
    """The fields the create form must require (plus "phone or e-mail", always)."""
    return [f for f in list_fields(session=session, actor=actor) if f.required_on_create]


def _options(field_type: str, options: list[str] | None) -> list[str]:
    cleaned = list(dict.fromkeys(" ".join(str(o).split()) for o in (options or []) if str(o).strip()))
    if field_type not in CHOICE_TYPES:
        if cleaned:
            raise SettingsError("Only single and multiple choice fields have options")
        return []
    if not cleaned:
        raise SettingsError("A choice field needs at least one option")
    too_long = [o for o in cleaned if len(o) > 255]
    if too_long:
        raise SettingsError(f"An option can have at most 255 characters: '{too_long[0][:40]}…'")
    return cleaned


def _get_field(session: Session, key: str) -> FieldDefinition:
    definition = session.get(FieldDefinition, key)
    if definition is None:
        raise SettingsError(f"There is no field '{key}'")
    return definition


def create_field(
    *,
    session: Session,
    actor: Actor,
    label: str,
    type: str = "text",
    key: str | None = None,
    options: list[str] | None = None,
    required_on_create: bool = False,
    is_pii: bool = False,
) -> FieldDefinition:
    """Add a custom attribute (stored in profiles.attributes under `key`, made from the
    label when not given). `type` is one of FIELD_TYPES; choice types need options."""
    actor.require(SETTINGS_MANAGE)
    label = _name(label, "field")
    if type not in FIELD_TYPES:
        raise SettingsError(f"Unknown field type '{type}' (choose one of {', '.join(FIELD_TYPES)})")
    key = _check_key(key or make_key(label))
    identity_kinds = set(session.exec(select(IdentityKind.key)).all())
    if key in _RESERVED_KEYS or key in identity_kinds or session.get(FieldDefinition, key):
        raise SettingsError(f"The key '{key}' is already used: choose another label or key")
    position = (session.execute(select(sa.func.max(FieldDefinition.position))).scalar_one() or 0) + 1
    definition = FieldDefinition(
        key=key,
        label=label,
        type=type,
        options=_options(type, options),
        is_system=False,
        required_on_create=bool(required_on_create),
        is_pii=bool(is_pii),
        position=position,
    )
    session.add(definition)
    session.flush()
    ensure_sort_index(session, key)  # the list sorts by it from an index
    _audit(
        session,
        actor,
        "field.create",
        "field",
        key,
        label=label,
        type=type,
        options=definition.options,
        required_on_create=definition.required_on_create,
        is_pii=definition.is_pii,
    )
    return definition


def _has_values(session: Session, key: str) -> bool:
    return (
        session.execute(select(Profile.id).where(Profile.attributes[key].as_string().is_not(None)).limit(1)).first()
        is not None
    )


def update_field(
    *,
    session: Session,
    actor: Actor,
    key: str,
    label: str | None = None,
    type: str | None = None,
    options: list[str] | None = None,
    required_on_create: bool | None = None,
    is_pii: bool | None = None,
) -> FieldDefinition:
    """Change a field (None = leave as is). System fields: only `required_on_create`
    and (choice fields) `options`. A custom field's type changes only while no
    profile holds a value for it."""
    actor.require(SETTINGS_MANAGE)
    definition = _get_field(session, key)
    before = {
        "label": definition.label,
        "type": definition.type,
        "options": list(definition.options or []),
        "required_on_create": definition.required_on_create,
        "is_pii": definition.is_pii,
    }
    if definition.is_system:
        if (
            (label is not None and label != definition.label)
            or (type is not None and type != definition.type)
            or (is_pii is not None and is_pii != definition.is_pii)
        ):
            raise SettingsError(
                f"{definition.label} is a system field: only 'required on create' and its options can change"
            )
        if options is not None and definition.type not in CHOICE_TYPES:
            raise SettingsError(f"{definition.label} has no options")
    if label is not None:
        definition.label = _name(label, "field")
    if type is not None and type != definition.type:
        if type not in FIELD_TYPES:
            raise SettingsError(f"Unknown field type '{type}'")
        if _has_values(session, key):
            raise SettingsError(
                f"Profiles already hold values for {definition.label}: its type cannot "
                "change (create a new field instead)"
            )
        definition.type = type
        if type not in CHOICE_TYPES and options is None:
            definition.options = []
    if options is not None or (type is not None and type in CHOICE_TYPES):
        definition.options = _options(definition.type, options if options is not None else definition.options)
    if required_on_create is not None:
        definition.required_on_create = bool(required_on_create)
    if is_pii is not None:
        definition.is_pii = bool(is_pii)
    after = {
        "label": definition.label,
        "type": definition.type,
        "options": list(definition.options or []),
        "required_on_create": definition.required_on_create,
        "is_pii": definition.is_pii,
    }
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        session.add(definition)
        session.flush()
        _audit(session, actor, "field.update", "field", key, changes=changed)
    return definition


def delete_field(*, session: Session, actor: Actor, key: str) -> None:
    """Remove a custom field with its values on every profile and their provenance."""
    actor.require(SETTINGS_MANAGE)
    definition = _get_field(session, key)
    if definition.is_system:
        raise SettingsError(f"{definition.label} is a system field and cannot be deleted")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = sa.text(
            "UPDATE profiles SET attributes = (attributes::jsonb - :key)::json "
            "WHERE attributes ->> :key IS NOT NULL OR jsonb_exists(attributes::jsonb, :key)"
        )
    else:
        statement = sa.text(
            "UPDATE profiles SET attributes = json_remove(attributes, :path) "
            "WHERE json_type(attributes, :path) IS NOT NULL"
        )
    if sortable_key(key):
        drop_sort_index(session, key)  # first: the UPDATE below need not maintain it
    cleared = session.execute(statement, {"key": key, "path": f'$."{key}"'}).rowcount
    session.execute(sa.delete(AttributeProvenance).where(AttributeProvenance.field_key == key))
    for rule in session.exec(select(SyncRule)).all():
        if key in (rule.field_policies or {}):
            rule.field_policies = {k: v for k, v in rule.field_policies.items() if k != key}
            session.add(rule)
    session.delete(definition)
    session.flush()
    _audit(session, actor, "field.delete", "field", key, label=definition.label, profiles_cleared=cleared)


def reorder_fields(*, session: Session, actor: Actor, keys: list[str]) -> None:
    """Display order of the fields (forms, 360 page): `keys` first, in that order."""
    actor.require(SETTINGS_MANAGE)
    definitions = field_definitions(session)
    unknown = [k for k in keys if k not in definitions]
    if unknown:
        raise SettingsError(f"Unknown field '{unknown[0]}'")
    order = list(dict.fromkeys(keys)) + sorted(
        (k for k in definitions if k not in keys), key=lambda k: definitions[k].position
    )
    for position, key in enumerate(order):
        if definitions[key].position != position:
            definitions[key].position = position
            session.add(definitions[key])
    session.flush()
    _audit(session, actor, "field.reorder", "field", None, order=order)


# ---------------------------------------------------------------- tag groups and tags


def list_tag_groups(*, session: Session, actor: Actor) -> list[tuple[TagGroup, list[Tag]]]:
    """Every tag group with its tags, by name (for the tag dialog and the filters)."""
    actor.require(PROFILES_VIEW)
    groups = session.exec(select(TagGroup).order_by(TagGroup.name)).all()
    tags = session.exec(select(Tag).order_by(Tag.name)).all()
    by_group: dict[int, list[Tag]] = {}
    for tag in tags:
        by_group.setdefault(tag.group_id, []).append(tag)
    return [(group, by_group.get(group.id, [])) for group in groups]


def _unique_name(
    session: Session, model: Any, name: str, what: str, exclude_id: int | None = None, **scope: Any
) -> None:
    query = select(model.id).where(model.name == name, *(getattr(model, k) == v for k, v in scope.items()))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if session.execute(query).first() is not None:
        raise SettingsError(f"A {what} named '{name}' already exists")


def create_tag_group(*, session: Session, actor: Actor, name: str) -> TagGroup:
    actor.require(SETTINGS_MANAGE)
    name = _name(name, "tag group")
    _unique_name(session, TagGroup, name, "tag group")
    group = TagGroup(name=name)
    session.add(group)
    session.flush()
    _audit(session, actor, "tag_group.create", "tag_group", group.id, name=name)
    return group


def _get(session: Session, model: Any, object_id: int, what: str) -> Any:
    row = session.get(model, object_id)
    if row is None:
        raise SettingsError(f"There is no {what} {object_id}")
    return row


def rename_tag_group(*, session: Session, actor: Actor, group_id: int, name: str) -> TagGroup:
    actor.require(SETTINGS_MANAGE)
    group = _get(session, TagGroup, group_id, "tag group")
    name = _name(name, "tag group")
    _unique_name(session, TagGroup, name, "tag group", exclude_id=group_id)
    before, group.name = group.name, name
    session.add(group)
    session.flush()
    _audit(session, actor, "tag_group.rename", "tag_group", group_id, before=before, after=name)
    return group


def delete_tag_group(*, session: Session, actor: Actor, group_id: int) -> int:
    """Delete a tag group, its tags and those tags on every profile; returns how many
    profile tags went."""
    actor.require(SETTINGS_MANAGE)
    group = _get(session, TagGroup, group_id, "tag group")
    tag_ids = list(session.exec(select(Tag.id).where(Tag.group_id == group_id)).all())
    removed = 0
    if tag_ids:
        removed = session.execute(sa.delete(ProfileTag).where(ProfileTag.tag_id.in_(tag_ids))).rowcount or 0
        session.execute(sa.delete(Tag).where(Tag.id.in_(tag_ids)))
    session.delete(group)
    session.flush()
    _audit(
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
    _get(session, TagGroup, group_id, "tag group")
    name = _name(name, "tag")
    if kind not in TAG_KINDS:
        raise SettingsError(f"A tag is 'text' (one value) or 'multi' (several values), not '{kind}'")
    _unique_name(session, Tag, name, "tag in this group", group_id=group_id)
    tag = Tag(group_id=group_id, name=name, kind=kind)
    session.add(tag)
    session.flush()
    _audit(session, actor, "tag.create", "tag", tag.id, name=name, kind=kind, group_id=group_id)
    return tag


def update_tag(*, session: Session, actor: Actor, tag_id: int, name: str | None = None, kind: str | None = None) -> Tag:
    """Rename a tag or change its kind; multi -> text only while no profile holds two values."""
    actor.require(SETTINGS_MANAGE)
    tag = _get(session, Tag, tag_id, "tag")
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = _name(name, "tag")
        if name != tag.name:
            _unique_name(session, Tag, name, "tag in this group", exclude_id=tag_id, group_id=tag.group_id)
            changes["name"] = [tag.name, name]
            tag.name = name
    if kind is not None and kind != tag.kind:
        if kind not in TAG_KINDS:
            raise SettingsError(f"A tag is 'text' (one value) or 'multi' (several values), not '{kind}'")
        if kind == "text":
            several = session.execute(
                select(ProfileTag.profile_id)
                .where(ProfileTag.tag_id == tag_id)
                .group_by(ProfileTag.profile_id)
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
        _audit(session, actor, "tag.update", "tag", tag_id, changes=changes)
    return tag


def delete_tag(*, session: Session, actor: Actor, tag_id: int) -> int:
    """Delete a tag and remove it from every profile; returns how many profile tags went."""
    actor.require(SETTINGS_MANAGE)
    tag = _get(session, Tag, tag_id, "tag")
    removed = session.execute(sa.delete(ProfileTag).where(ProfileTag.tag_id == tag_id)).rowcount or 0
    session.delete(tag)
    session.flush()
    _audit(session, actor, "tag.delete", "tag", tag_id, name=tag.name, profile_tags_removed=removed)
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


# ---------------------------------------------------------------- segments and groups


def list_segments(*, session: Session, actor: Actor) -> list[Segment]:
    actor.require(PROFILES_VIEW)
    return list(session.exec(select(Segment).order_by(Segment.name)).all())


def create_segment(
    *, session: Session, actor: Actor, name: str, description: str = "", filter: dict[str, Any] | None = None
) -> Segment:
    """A segment; `filter` (ProfileFilter.to_json()) saves the list filter it stands for."""
    actor.require(SETTINGS_MANAGE)
    name = _name(name, "segment")
    _unique_name(session, Segment, name, "segment")
    segment = Segment(
        name=name,
        description=(description or "").strip()[:500],
        source="filter" if filter else "manual",
        filter=filter or None,
    )
    session.add(segment)
    session.flush()
    _audit(session, actor, "segment.create", "segment", segment.id, name=name, filter=filter)
    return segment


def _update_audience(
    session: Session, actor: Actor, row: Segment | Group, kind: str, name: str | None, description: str | None
) -> None:
    """Rename / re-describe a segment or group (same rules for both); audit what changed."""
    changes: dict[str, list[Any]] = {}
    if name is not None:
        name = _name(name, kind)
        _unique_name(session, type(row), name, kind, exclude_id=row.id)
        if name != row.name:
            changes["name"] = [row.name, name]
            row.name = name
    if description is not None and description.strip()[:500] != row.description:
        changes["description"] = [row.description, description.strip()[:500]]
        row.description = description.strip()[:500]
    if changes:
        session.add(row)
        session.flush()
        _audit(session, actor, f"{kind}.update", kind, row.id, changes=changes)


def update_segment(
    *, session: Session, actor: Actor, segment_id: int, name: str | None = None, description: str | None = None
) -> Segment:
    actor.require(SETTINGS_MANAGE)
    segment = _get(session, Segment, segment_id, "segment")
    _update_audience(session, actor, segment, "segment", name, description)
    return segment


def delete_segment(*, session: Session, actor: Actor, segment_id: int) -> None:
    """Delete a segment and its memberships (profiles stay)."""
    actor.require(SETTINGS_MANAGE)
    segment = _get(session, Segment, segment_id, "segment")
    members = session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == segment_id)).rowcount
    session.delete(segment)
    session.flush()
    _audit(session, actor, "segment.delete", "segment", segment_id, name=segment.name, members=members)


def list_groups(*, session: Session, actor: Actor) -> list[Group]:
    actor.require(PROFILES_VIEW)
    return list(session.exec(select(Group).order_by(Group.name)).all())


def create_group(*, session: Session, actor: Actor, name: str, description: str = "") -> Group:
    actor.require(SETTINGS_MANAGE)
    name = _name(name, "group")
    _unique_name(session, Group, name, "group")
    group = Group(name=name, description=(description or "").strip()[:500])
    session.add(group)
    session.flush()
    _audit(session, actor, "group.create", "group", group.id, name=name)
    return group


def update_group(
    *, session: Session, actor: Actor, group_id: int, name: str | None = None, description: str | None = None
) -> Group:
    actor.require(SETTINGS_MANAGE)
    group = _get(session, Group, group_id, "group")
    _update_audience(session, actor, group, "group", name, description)
    return group


def delete_group(*, session: Session, actor: Actor, group_id: int) -> None:
    """Delete a group and its memberships (profiles stay)."""
    actor.require(SETTINGS_MANAGE)
    group = _get(session, Group, group_id, "group")
    if session.execute(select(ImportJob.id).where(ImportJob.group_id == group_id).limit(1)).first():
        raise SettingsError(f"Imports were made into '{group.name}': it cannot be deleted")
    members = session.execute(sa.delete(GroupMembership).where(GroupMembership.group_id == group_id)).rowcount
    session.delete(group)
    session.flush()
    _audit(session, actor, "group.delete", "group", group_id, name=group.name, members=members)


# ---------------------------------------------------------------- sync rule and identity kinds


def get_sync_rule(*, session: Session, actor: Actor) -> SyncRule:
    """The active sync rule (identity resolution for imports and manual creation)."""
    actor.require(PROFILES_VIEW)
    rule = saved_sync_rule(session)
    if rule is None:
        raise SettingsError("No sync rule is set up")
    return rule


def update_sync_rule(
    *,
    session: Session,
    actor: Actor,
    identifier_kinds: list[str] | None = None,
    auto_merge: bool | None = None,
    default_policy: str | None = None,
    field_policies: dict[str, str] | None = None,
) -> SyncRule:
    """Change the active sync rule (None = leave as is).

    `identifier_kinds`: identity kinds that identify a person, in matching order;
    `auto_merge`: merge profiles that one record matches two of (else held for review);
    `default_policy` and `field_policies` ({field key: policy}, replacing the old map):
    overwrite | fill_empty | never.
    """
    actor.require(SETTINGS_MANAGE)
    rule = get_sync_rule(session=session, actor=actor)
    before = {
        "identifier_kinds": list(rule.identifier_kinds or []),
        "auto_merge": rule.auto_merge,
        "default_policy": rule.default_policy,
        "field_policies": dict(rule.field_policies or {}),
    }
    if identifier_kinds is not None:
        kinds = set(session.exec(select(IdentityKind.key)).all())
        ordered = list(dict.fromkeys(identifier_kinds))
        if len(ordered) != len(identifier_kinds):
            raise SettingsError("An identity kind can appear only once in the sync rule")
        unknown = [k for k in ordered if k not in kinds]
        if unknown:
            raise SettingsError(f"'{unknown[0]}' is not an identity kind of this workspace")
        if not ordered:
            raise SettingsError("The sync rule needs at least one identity kind")
        rule.identifier_kinds = ordered
    if auto_merge is not None:
        rule.auto_merge = bool(auto_merge)
    if default_policy is not None:
        if default_policy not in MERGE_POLICIES:
            raise SettingsError(f"Unknown policy '{default_policy}' (choose {', '.join(MERGE_POLICIES)})")
        rule.default_policy = default_policy
    if field_policies is not None:
        keys = set(session.exec(select(FieldDefinition.key)).all())
        for key, policy in field_policies.items():
            if key not in keys:
                raise SettingsError(f"There is no field '{key}'")
            if policy not in MERGE_POLICIES:
                raise SettingsError(f"Unknown policy '{policy}' for {key} (choose {', '.join(MERGE_POLICIES)})")
        rule.field_policies = dict(field_policies)
    after = {
        "identifier_kinds": list(rule.identifier_kinds or []),
        "auto_merge": rule.auto_merge,
        "default_policy": rule.default_policy,
        "field_policies": dict(rule.field_policies or {}),
    }
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        rule.updated_at = utcnow()
        session.add(rule)
        session.flush()
        _audit(session, actor, "sync_rule.update", "sync_rule", rule.id, changes=changed)
    return rule


def list_identity_kinds(*, session: Session, actor: Actor) -> list[IdentityKind]:
    actor.require(PROFILES_VIEW)
    return list(identity_kinds(session).values())


def create_identity_kind(*, session: Session, actor: Actor, label: str, key: str | None = None) -> IdentityKind:
    """A custom id kind (loyalty card number, CRM id...). Not an identifier in the sync
    rule until added there."""
    actor.require(SETTINGS_MANAGE)
    label = _name(label, "identity kind")
    key = _check_key(key or make_key(label))
    if session.get(IdentityKind, key) or session.get(FieldDefinition, key) or key in _RESERVED_KEYS:
        raise SettingsError(f"The key '{key}' is already used: choose another label or key")
    position = (session.execute(select(sa.func.max(IdentityKind.position))).scalar_one() or 0) + 1
    kind = IdentityKind(key=key, label=label, is_builtin=False, position=position)
    session.add(kind)
    session.flush()
    _audit(session, actor, "identity_kind.create", "identity_kind", key, label=label)
    return kind


def rename_identity_kind(*, session: Session, actor: Actor, key: str, label: str) -> IdentityKind:
    actor.require(SETTINGS_MANAGE)
    kind = session.get(IdentityKind, key)
    if kind is None:
        raise SettingsError(f"There is no identity kind '{key}'")
    before, kind.label = kind.label, _name(label, "identity kind")
    session.add(kind)
    session.flush()
    _audit(session, actor, "identity_kind.rename", "identity_kind", key, before=before, after=kind.label)
    return kind


def delete_identity_kind(*, session: Session, actor: Actor, key: str) -> None:
    """Delete a custom identity kind that no profile uses (built-in kinds stay)."""
    actor.require(SETTINGS_MANAGE)
    kind = session.get(IdentityKind, key)
    if kind is None:
        raise SettingsError(f"There is no identity kind '{key}'")
    if kind.is_builtin:
        raise SettingsError(f"{kind.label} is built in and cannot be deleted")
    used = session.execute(
        select(sa.func.count()).select_from(select(Identity.id).where(Identity.kind == key).limit(100_001).subquery())
    ).scalar_one()
    if used:
        raise SettingsError(f"{used:,} profiles have a {kind.label}: remove those identities first")
    for rule in session.exec(select(SyncRule)).all():
        if key in (rule.identifier_kinds or []):
            rule.identifier_kinds = [k for k in rule.identifier_kinds if k != key]
            session.add(rule)
    session.delete(kind)
    session.flush()
    _audit(session, actor, "identity_kind.delete", "identity_kind", key, label=kind.label)


def consent_channels() -> list[tuple[str, str]]:
    """(channel, label) of the fixed consent channels, in display order."""
    return [(channel, CONSENT_CHANNEL_LABELS[channel]) for channel in CONSENT_CHANNELS]


# ---------------------------------------------------------------- users and roles


def available_permissions(*, session: Session, actor: Actor) -> list[str]:
    """Every permission a role can hold, including one export permission per identity kind."""
    actor.require(SETTINGS_MANAGE)
    kinds = session.exec(select(IdentityKind.key).order_by(IdentityKind.position)).all()
    return [*ALL_PERMISSIONS, *(export_identity_permission(k) for k in kinds)]


def list_roles(*, session: Session, actor: Actor) -> list[tuple[Role, int]]:
    """Roles with how many users hold each."""
    actor.require(SETTINGS_MANAGE)
    counts = dict(session.execute(select(User.role_id, sa.func.count()).group_by(User.role_id)).all())
    return [(role, counts.get(role.id, 0)) for role in session.exec(select(Role).order_by(Role.id)).all()]


def _permissions(session: Session, actor: Actor, permissions: list[str]) -> list[str]:
    allowed = set(available_permissions(session=session, actor=actor))
    unknown = [p for p in permissions if p not in allowed]
    if unknown:
        raise SettingsError(f"Unknown permission '{unknown[0]}'")
    return sorted(set(permissions))


def create_role(*, session: Session, actor: Actor, name: str, permissions: list[str], description: str = "") -> Role:
    actor.require(SETTINGS_MANAGE)
    name = _name(name, "role", 64)
    if session.exec(select(Role).where(Role.name == name)).first():
        raise SettingsError(f"A role named '{name}' already exists")
    role = Role(
        name=name,
        description=(description or "").strip()[:255],
        permissions=_permissions(session, actor, permissions),
        is_builtin=False,
    )
    session.add(role)
    session.flush()
    _audit(session, actor, "role.create", "role", role.id, name=name, permissions=role.permissions)
    return role


def update_role(
    *,
    session: Session,
    actor: Actor,
    role_id: int,
    permissions: list[str] | None = None,
    description: str | None = None,
) -> Role:
    """Change a custom role's permissions or description (built-in roles are fixed)."""
    actor.require(SETTINGS_MANAGE)
    role = _get(session, Role, role_id, "role")
    if role.is_builtin:
        raise SettingsError(f"'{role.name}' is a built-in role and cannot change")
    changes: dict[str, list[Any]] = {}
    if permissions is not None:
        new = _permissions(session, actor, permissions)
        if new != sorted(role.permissions or []):
            changes["permissions"] = [sorted(role.permissions or []), new]
            role.permissions = new
    if description is not None and description.strip()[:255] != role.description:
        changes["description"] = [role.description, description.strip()[:255]]
        role.description = description.strip()[:255]
    if changes:
        session.add(role)
        session.flush()
        _audit(session, actor, "role.update", "role", role_id, name=role.name, changes=changes)
    return role


def delete_role(*, session: Session, actor: Actor, role_id: int) -> None:
    actor.require(SETTINGS_MANAGE)
    role = _get(session, Role, role_id, "role")
    if role.is_builtin:
        raise SettingsError(f"'{role.name}' is a built-in role and cannot be deleted")
    users = session.execute(select(sa.func.count()).select_from(User).where(User.role_id == role_id)).scalar_one()
    if users:
        raise SettingsError(f"{users} users have the role '{role.name}': give them another role first")
    session.delete(role)
    session.flush()
    _audit(session, actor, "role.delete", "role", role_id, name=role.name)


def set_user_active(*, session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate a user (they are signed out and cannot sign in) or reactivate them."""
    actor.require(SETTINGS_MANAGE)
    user = _get(session, User, user_id, "user")
    if not active and user.id == actor.user_id:
        raise SettingsError("You cannot deactivate your own account")
    if user.is_active != bool(active):
        user.is_active = bool(active)
        session.add(user)
        session.flush()
        _audit(session, actor, "user.activate" if active else "user.deactivate", "user", user_id, email=user.email)
    return user
