"""Settings > Fields: the field definitions (system columns and custom attributes).

Reading them needs profiles.view (the list, the create form and the import wizard show
them; `catalog.field_definitions` is the read without a permission check); a change needs
settings.manage. Deleting a custom field clears its values on every profile in one
statement, with their provenance and its per-field sync policy.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import CHOICE_TYPES, FIELD_TYPES, AttributeProvenance, FieldDefinition, IdentityKind, Profile, SyncRule
from ..attribute_sort import drop_sort_index, ensure_sort_index, sortable_key
from ..catalog import field_definitions
from ..permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .common import RESERVED_KEYS, SettingsError, audit_change, check_key, clean_name, make_key, rows_changed


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
    label = clean_name(label, "field")
    if type not in FIELD_TYPES:
        raise SettingsError(f"Unknown field type '{type}' (choose one of {', '.join(FIELD_TYPES)})")
    key = check_key(key or make_key(label))
    identity_kinds = set(session.exec(select(IdentityKind.key)).all())
    if key in RESERVED_KEYS or key in identity_kinds or session.get(FieldDefinition, key) is not None:
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
    audit_change(
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
        definition.label = clean_name(label, "field")
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
        audit_change(session, actor, "field.update", "field", key, changes=changed)
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
    cleared = rows_changed(session, statement, {"key": key, "path": f'$."{key}"'})
    session.execute(sa.delete(AttributeProvenance).where(col(AttributeProvenance.field_key) == key))
    for rule in session.exec(select(SyncRule)).all():
        if key in (rule.field_policies or {}):
            rule.field_policies = {k: v for k, v in rule.field_policies.items() if k != key}
            session.add(rule)
    session.delete(definition)
    session.flush()
    audit_change(session, actor, "field.delete", "field", key, label=definition.label, profiles_cleared=cleared)


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
    audit_change(session, actor, "field.reorder", "field", None, order=order)
