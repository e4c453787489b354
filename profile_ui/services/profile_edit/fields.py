"""Editing a profile's attributes (inline or in the Edit dialog; each saved value is locked),
unlocking them, and consent per channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from ...models import (
    AttributeProvenance,
    FieldDefinition,
    utcnow,
)
from ...settings import get_settings
from ..audit import record_event
from ..catalog import field_definitions, identity_kinds
from ..permissions import PROFILES_EDIT, SETTINGS_MANAGE, Actor
from ..profiles.read import FieldValue, HistoryEvent, ProfileHeader, field_values
from .common import (
    ProfileChanged,
    ProfileValidationError,
    current_value,
    is_empty,
    json_for_audit,
    load_profile,
    parse_consent,
    parse_values,
    same_value,
    write_consent,
    write_values,
)


@dataclass(frozen=True)
class FieldEdit:
    """What `update_profile_fields` saved, in the types User 360 shows (profiles/read.py),
    so the page updates what it shows from this alone.

    `changes`: {field key: [before, after]} (JSON-ready) of the values that changed, empty
    when nothing did (then `fields` is empty and `event` None). `fields`: the changed
    fields as now stored, locked. `header`: the profile's row after the edit, with the
    version a next edit from the page is checked against. `event`: the audit event written.
    """

    changes: dict[str, list[Any]]
    header: ProfileHeader
    fields: list[FieldValue]
    event: HistoryEvent | None


def _display_order(definition: FieldDefinition) -> tuple[int, str]:
    return definition.position, definition.key


def update_profile_fields(
    *,
    session: Session,
    actor: Actor,
    profile_id: int,
    values: dict[str, str],
    expected_version: int | None = None,
) -> FieldEdit:
    """Save one or several attributes typed by a person (inline edit, Edit dialog).

    Returns a FieldEdit: the changes ({field key: [before, after]}, JSON-ready), the
    changed fields as User 360 shows them, the profile's new version and the audit event,
    so the page shows the result without reading the profile again. Unchanged values are
    left as they are (not locked). Each changed value is locked:
    its provenance becomes source "manual", locked=True, so later imports keep it.
    Raises ProfileValidationError (nothing saved) for unreadable values, emptied
    required fields, unknown fields and identities (which are added/removed instead).

    `expected_version` is the profile version the editing page showed: when the row has
    moved on since (every UPDATE raises it, migration 0010), ProfileChanged is raised and
    nothing is written. The row is locked first (PostgreSQL; SQLite has one writer), so
    of two edits sent at once from the same version the second is refused.
    """
    actor.require(PROFILES_EDIT)
    profile = load_profile(session, profile_id, for_update=expected_version is not None)
    definitions = field_definitions(session)
    kinds = identity_kinds(session)
    errors: dict[str, str] = {}
    parsed = parse_values(values or {}, definitions, kinds, errors, get_settings().default_phone_region)
    for key, value in parsed.items():
        if is_empty(value) and definitions[key].required_on_create:
            errors[key] = f"{definitions[key].label} is required and cannot be emptied"
    if errors:
        raise ProfileValidationError(errors)
    changes: dict[str, list[Any]] = {}
    writes: dict[str, Any] = {}
    for key, new in parsed.items():
        current = current_value(profile, definitions[key])
        if (is_empty(current) and is_empty(new)) or same_value(current, new):
            continue
        writes[key] = new
        changes[key] = [json_for_audit(current), json_for_audit(new)]
    if not writes:
        return FieldEdit(changes={}, header=ProfileHeader.of(profile), fields=[], event=None)
    if expected_version is not None and profile.version != expected_version:
        raise ProfileChanged([definitions[key].label for key in writes])
    now = utcnow()
    write_values(session, actor, profile, writes, definitions, lock=True, now=now)
    session.flush()
    details = {"changes": changes, "locked": sorted(writes)}
    record_event(
        session=session,
        actor=actor,
        action="profile.edit",
        object_type="profile",
        object_id=profile.id,
        details=details,
    )
    session.refresh(profile, ["version"])  # raised by the database's trigger (migration 0010)
    return FieldEdit(
        changes=changes,
        header=ProfileHeader.of(profile),
        fields=field_values(
            session, profile, sorted((definitions[k] for k in writes), key=_display_order), keys=set(writes)
        ),
        event=HistoryEvent(at=now, actor_email=actor.email, action="profile.edit", details=details),
    )


def unlock_field(*, session: Session, actor: Actor, profile_id: int, field_key: str) -> bool:
    """Let imports change a hand-edited value again (admins: settings.manage).

    Returns False when the value was not locked (nothing to do).
    """
    actor.require(SETTINGS_MANAGE)
    load_profile(session, profile_id)
    provenance = session.get(AttributeProvenance, (profile_id, field_key))
    if provenance is None or not provenance.locked:
        return False
    provenance.locked = False
    session.add(provenance)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="profile.unlock",
        object_type="profile",
        object_id=profile_id,
        details={"field": field_key},
    )
    return True


def locked_fields(*, session: Session, profile_id: int) -> list[str]:
    """Keys of the profile's values that imports leave alone (for lock icons)."""
    return list(
        session.exec(
            select(AttributeProvenance.field_key)
            .where(AttributeProvenance.profile_id == profile_id, AttributeProvenance.locked == True)  # noqa: E712 (SQL "= true")
            .order_by(AttributeProvenance.field_key)
        ).all()
    )


def set_consent(*, session: Session, actor: Actor, profile_id: int, channel: str, status: str) -> bool:
    """Set one channel's consent by hand (granted / denied / unknown); False if unchanged."""
    actor.require(PROFILES_EDIT)
    load_profile(session, profile_id)
    errors: dict[str, str] = {}
    parsed = parse_consent({channel: status}, errors)
    if errors or not parsed:
        raise ProfileValidationError(errors or {f"consent:{channel}": "Choose granted, denied or unknown"})
    changes = write_consent(session, profile_id, parsed, actor, utcnow())
    if changes:
        session.flush()
        record_event(
            session=session,
            actor=actor,
            action="profile.consent",
            object_type="profile",
            object_id=profile_id,
            details={"consent": changes},
        )
    return bool(changes)
