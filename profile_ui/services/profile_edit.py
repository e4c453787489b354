"""Creating profiles by hand, editing their attributes (with locks), and their identities.

Values arrive as text (what a person typed) and are read with the import's rules
(importing/normalize.py, importing/values.py), so "0912 345 678", "31/12/1990" or "gold"
mean the same in a form as in a spreadsheet. Problems come back together, one message
per field, in `ProfileValidationError.errors`:

    {"<field key>": "...", "identity:<kind>": "...", "consent:<channel>": "..."}

A value a person saves in an edit is LOCKED: its provenance says source "manual",
locked=True, and imports leave it alone (apply.py honours `locked`) until an admin
unlocks it. Identities are never edited as attributes: add or remove them instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import (
    IDENTITY_PREFIX,
    MERGE_POLICIES,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    SYSTEM_COLUMNS,
    AttributeProvenance,
    Consent,
    FieldDefinition,
    Identity,
    IdentityKind,
    MergePolicy,
    Profile,
    SyncRule,
    utcnow,
)
from ..settings import get_settings
from .audit import record_event
from .catalog import active_sync_rule, field_definitions, identity_kinds
from .crypto import ENCRYPTED_MARK, audit_value, identity_columns
from .importing.changes_json import json_value
from .importing.normalize import (
    InvalidValue,
    clean_name,
    clean_text,
    normalize_email,
    normalize_phone,
    parse_boolean,
    parse_date,
    parse_datetime,
    parse_number,
    shorten,
)
from .importing.resolve import find_identity_owners
from .importing.validate import MULTI_SEPARATORS
from .importing.values import match_value
from .permissions import PROFILES_CREATE, PROFILES_EDIT, SETTINGS_MANAGE, Actor
from .profiles.errors import ProfileError, changeable_profile
from .profiles.read import FieldValue, HistoryEvent, ProfileHeader, field_values
from .workspace_settings import CONSENT_CHANNELS, CONSENT_STATUSES

MANUAL_SOURCE = "manual"
MANUAL_INITIAL_SOURCE = "Created manually"
CONTACT_KINDS = ("email", "phone")  # a new profile needs at least one of these
CUSTOM_TEXT_MAX = 1000
IDENTITY_VALUE_MAX = 255
_KIND_LABELS = {"email": "E-mail", "phone": "Phone", "user_id": "User ID"}


class ProfileValidationError(ProfileError):
    """Values a person entered that cannot be saved; nothing was written.

    `errors` maps a form key to a message for that person: a field key, "identity:<kind>"
    or "consent:<channel>".
    """

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class ProfileChanged(ProfileError):
    """The profile changed (an import, another person) since the page that sent the edit
    loaded it; nothing was written. The page shows the current values and the person
    decides again, so no change is overwritten without anyone seeing it."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        names = ", ".join(labels) or "This profile"
        super().__init__(
            f"{names}: changed by someone else or an import since you opened this "
            "profile. The page now shows the saved values; make your change again "
            "if it still applies."
        )


@dataclass
class CreateResult:
    """What `create_profile` did. With `matched_existing`, `profile_id` is the existing
    profile that was updated (the page should take the user there and show `message`)."""

    profile_id: int
    matched_existing: bool
    message: str
    matched_by: str | None = None  # identity kind that matched, in sync-rule order
    changes: dict[str, list[Any]] = field(default_factory=dict)  # {field: [before, after]}
    kept: dict[str, str] = field(default_factory=dict)  # {field: why the typed value was not used}


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


# ---------------------------------------------------------------- reading typed values


def _text_limits() -> dict[str, int]:
    return {c.name: c.type.length for c in Profile.__table__.columns if getattr(c.type, "length", None)}


_TEXT_LIMITS = _text_limits()


def _choice_message(definition: FieldDefinition, raw: str) -> str:
    options = ", ".join(definition.options or []) or "(this field has no choices yet)"
    return f"'{shorten(raw)}' is not one of the choices for {definition.label}: {shorten(options, 200)}"


def parse_field_value(definition: FieldDefinition, raw: str | None, *, region: str | None = None) -> Any:
    """The typed value of what a person typed into a field, or None for "empty".

    Types: text/email/phone/single_choice -> str; number -> float; boolean -> bool;
    date -> date; datetime -> aware datetime (UTC); multiple_choice -> list[str] (items
    separated by | or ;). Choices accept the import's "matching words" (gold -> Gold).
    Raises InvalidValue with a message for the person.
    """
    if raw is None or not str(raw).strip():
        return None
    text = str(raw)
    kind = definition.type
    if kind == "email":
        return normalize_email(text)
    if kind == "phone":
        return normalize_phone(text, region)
    if kind == "number":
        return parse_number(text)
    if kind == "boolean":
        return parse_boolean(text)
    if kind == "date":
        return parse_date(text)
    if kind == "datetime":
        return parse_datetime(text)
    if kind == "single_choice":
        option = match_value(text, list(definition.options or []))
        if option is None:
            raise InvalidValue(_choice_message(definition, text.strip()))
        return option
    if kind == "multiple_choice":
        items = [
            item.strip()
            for item in pl.Series([text]).str.replace_all(MULTI_SEPARATORS, "\x1f").str.split("\x1f")[0]
            if item.strip()
        ]
        chosen: list[str] = []
        for item in items:
            option = match_value(item, list(definition.options or []))
            if option is None:
                raise InvalidValue(_choice_message(definition, item))
            if option not in chosen:
                chosen.append(option)
        return chosen or None
    value = clean_name(text) if definition.key == "full_name" else clean_text(text)
    limit = _TEXT_LIMITS.get(definition.key) if definition.is_system else CUSTOM_TEXT_MAX
    if value and limit and len(value) > limit:
        raise InvalidValue(f"{definition.label} can have at most {limit} characters")
    return value


def parse_identity_value(kind: str, raw: str | None, *, region: str | None = None) -> str | None:
    """An identity value as stored (e-mail lower-case, phone E.164, others trimmed)."""
    if raw is None or not str(raw).strip():
        return None
    if kind == "email":
        value = normalize_email(raw)
    elif kind == "phone":
        value = normalize_phone(raw, region)
    else:
        value = clean_text(raw)
    if value and len(value) > IDENTITY_VALUE_MAX:
        raise InvalidValue(f"An identity can have at most {IDENTITY_VALUE_MAX} characters")
    return value


def _kind_label(kinds: dict[str, IdentityKind], kind: str) -> str:
    found = kinds.get(kind)
    return _KIND_LABELS.get(kind) or (found.label if found else kind)


def _current_value(profile: Profile, definition: FieldDefinition) -> Any:
    if definition.is_system or definition.key in SYSTEM_COLUMNS:
        return getattr(profile, definition.key)
    return (profile.attributes or {}).get(definition.key)


def _stored(value: Any, definition: FieldDefinition) -> Any:
    """The form a value is compared and stored in (JSON-ready for custom attributes)."""
    if definition.is_system or definition.key in SYSTEM_COLUMNS:
        return value
    return json_value(value)


def _same(current: Any, new: Any) -> bool:
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current == new
    return json_value(current) == json_value(new)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _audit_value(value: Any) -> Any:
    return json_value(value)


def _parse_values(
    values: dict[str, str],
    definitions: dict[str, FieldDefinition],
    kinds: dict[str, IdentityKind],
    errors: dict[str, str],
    region: str,
) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        if key.startswith(IDENTITY_PREFIX) or (key in kinds and key not in definitions):
            kind = key[len(IDENTITY_PREFIX) :] if key.startswith(IDENTITY_PREFIX) else key
            errors[key] = (
                f"{_kind_label(kinds, kind)} is an identity and cannot be edited as an "
                "attribute: add or remove it under Identity information"
            )
            continue
        definition = definitions.get(key)
        if definition is None:
            errors[key] = f"'{key}' is not a field of this workspace"
            continue
        try:
            parsed[key] = parse_field_value(definition, raw, region=region)
        except InvalidValue as exc:
            errors[key] = str(exc)
    return parsed


def _display_order(definition: FieldDefinition) -> tuple[int, str]:
    return definition.position, definition.key


def _load_profile(session: Session, profile_id: int, *, for_update: bool = False) -> Profile:
    return changeable_profile(session, profile_id, for_update=for_update)  # refuses a profile in the trash


def _profile_name(profile: Profile) -> str:
    return f"profile {profile.id}" + (f" ({profile.full_name})" if profile.full_name else "")


def _write_values(
    session: Session,
    actor: Actor,
    profile: Profile,
    new_values: dict[str, Any],
    definitions: dict[str, FieldDefinition],
    *,
    lock: bool,
    now: datetime,
) -> None:
    """Set field values on a profile and stamp their provenance as manual."""
    attributes = dict(profile.attributes or {})
    for key, value in new_values.items():
        definition = definitions[key]
        if definition.is_system or key in SYSTEM_COLUMNS:
            setattr(profile, key, value)
        elif _is_empty(value):
            attributes.pop(key, None)
        else:
            attributes[key] = _stored(value, definition)
    profile.attributes = attributes
    profile.updated_at = now
    session.add(profile)
    for key in new_values:
        provenance = session.get(AttributeProvenance, (profile.id, key)) or AttributeProvenance(
            profile_id=profile.id, field_key=key, source_type=MANUAL_SOURCE
        )
        provenance.source_type = MANUAL_SOURCE
        provenance.source_name = actor.email
        provenance.import_job_id = None
        provenance.set_by = actor.user_id
        provenance.set_at = now
        provenance.locked = lock
        session.add(provenance)


# ---------------------------------------------------------------- create


def create_profile(
    *,
    session: Session,
    actor: Actor,
    values: dict[str, str],
    identities: dict[str, str],
    consent: dict[str, str] | None = None,
) -> CreateResult:
    """Create a profile from a form, or update the existing profile the sync rule matches.

    `values`: field key -> text; `identities`: identity kind -> text (email, phone,
    user_id, custom kinds); `consent`: channel (email/sms/push/phone) -> granted, denied
    or unknown (empty = not given). Fields marked required_on_create must be filled, and
    a phone or an e-mail is needed. Raises ProfileValidationError (nothing written) with
    one message per problem, including identities that belong to another profile or to
    two different profiles at once.

    When the active sync rule's identifier kinds (in order) find ONE existing profile,
    that profile is updated instead: each typed value follows the rule's field policy
    (overwrite / fill_empty / never), locked values stay, new identities are added and
    consent is set; `CreateResult.matched_existing` is True and `message` says so.
    Values written get provenance source "manual" (not locked: only edits lock).
    """
    actor.require(PROFILES_CREATE)
    region = get_settings().default_phone_region
    definitions = field_definitions(session)
    kinds = identity_kinds(session)
    errors: dict[str, str] = {}
    parsed = _parse_values(values or {}, definitions, kinds, errors, region)

    typed_ids: dict[str, str] = {}
    for kind, raw in (identities or {}).items():
        key = f"{IDENTITY_PREFIX}{kind}"
        if kind not in kinds:
            errors[key] = f"'{kind}' is not an identity kind of this workspace"
            continue
        try:
            value = parse_identity_value(kind, raw, region=region)
        except InvalidValue as exc:
            errors[key] = str(exc)
            continue
        if value:
            typed_ids[kind] = value
    if not any(kind in typed_ids for kind in CONTACT_KINDS) and not any(
        f"{IDENTITY_PREFIX}{k}" in errors for k in CONTACT_KINDS
    ):
        for kind in CONTACT_KINDS:
            errors[f"{IDENTITY_PREFIX}{kind}"] = "Enter a phone number or an e-mail address"

    consent_values = _parse_consent(consent or {}, errors)

    rule = active_sync_rule(session)
    owners = _owners(session, typed_ids)
    identifier_kinds = [k for k in (rule.identifier_kinds or []) if k in typed_ids]
    matched = list(dict.fromkeys(owners[k] for k in identifier_kinds if k in owners))
    if len(matched) > 1:
        detail = ", ".join(
            f"{_kind_label(kinds, k)} belongs to profile {owners[k]}" for k in identifier_kinds if k in owners
        )
        for kind in identifier_kinds:
            if kind in owners:
                errors[f"{IDENTITY_PREFIX}{kind}"] = (
                    f"These identifiers belong to different profiles ({detail}); "
                    "merge them first or leave one of the identifiers out"
                )
    target_id = matched[0] if len(matched) == 1 else None
    for kind, owner in owners.items():
        if kind not in identifier_kinds and owner != target_id:
            errors[f"{IDENTITY_PREFIX}{kind}"] = (
                f"This {_kind_label(kinds, kind).lower()} already belongs to profile {owner}"
            )
    target = session.get(Profile, target_id) if target_id else None
    matched_by = next((k for k in identifier_kinds if target and owners.get(k) == target.id), None)
    if target is not None and target.status == STATUS_DELETED:
        errors[f"{IDENTITY_PREFIX}{matched_by}"] = (
            f"Matches profile {target.id}, which is in the trash: restore it instead"
        )

    if target is None:
        for key, definition in definitions.items():
            if definition.required_on_create and _is_empty(parsed.get(key)) and key not in errors:
                errors[key] = f"{definition.label} is required"
    if errors:
        raise ProfileValidationError(errors)

    now = utcnow()
    if target is not None:
        return _update_matched(
            session, actor, target, parsed, typed_ids, consent_values, definitions, kinds, rule, matched_by, now
        )

    profile = Profile(
        status=STATUS_ACTIVE, initial_source=MANUAL_INITIAL_SOURCE, attributes={}, created_at=now, updated_at=now
    )
    session.add(profile)
    session.flush()
    filled = {k: v for k, v in parsed.items() if not _is_empty(v)}
    _write_values(session, actor, profile, filled, definitions, lock=False, now=now)
    _add_identities(session, actor, profile.id, typed_ids, now)
    _write_consent(session, profile.id, consent_values, actor, now)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="profile.create",
        object_type="profile",
        object_id=profile.id,
        details={
            "fields": {k: _audit_value(v) for k, v in filled.items()},
            "identities": sorted(typed_ids),
            "consent": consent_values,
        },
    )
    return CreateResult(
        profile_id=profile.id,
        matched_existing=False,
        message=f"Profile {profile.id} created",
        changes={k: [None, _audit_value(v)] for k, v in filled.items()},
    )


def _owners(session: Session, typed_ids: dict[str, str]) -> dict[str, int]:
    """identity kind -> the profile that owns the typed value today (the import's lookup)."""
    owners: dict[str, int] = {}
    for kind, value in typed_ids.items():
        found = find_identity_owners(session=session, kind=kind, values=pl.Series([value], dtype=pl.Utf8))
        if found.height:
            owners[kind] = int(found["profile_id"][0])
    return owners


def _parse_consent(consent: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel, status in consent.items():
        status = (status or "").strip().lower()
        if not status:
            continue
        if channel not in CONSENT_CHANNELS:
            errors[f"consent:{channel}"] = f"'{channel}' is not a consent channel"
        elif status not in CONSENT_STATUSES:
            errors[f"consent:{channel}"] = f"Consent must be one of {', '.join(CONSENT_STATUSES)}"
        else:
            out[channel] = status
    return out


def _write_consent(
    session: Session, profile_id: int, consent: dict[str, str], actor: Actor, now: datetime
) -> dict[str, list[str | None]]:
    changes: dict[str, list[str | None]] = {}
    for channel, status in consent.items():
        row = session.get(Consent, (profile_id, channel))
        before = row.status if row else None
        if before == status:
            continue
        row = row or Consent(profile_id=profile_id, channel=channel, status=status)
        row.status, row.source, row.updated_at = status, f"{MANUAL_SOURCE} ({actor.email})", now
        session.add(row)
        changes[channel] = [before, status]
    return changes


def _add_identities(
    session: Session, actor: Actor, profile_id: int, typed_ids: dict[str, str], now: datetime
) -> list[str]:
    """Add the typed identities this profile does not have yet (the callers refused values
    owned by another profile, so an owned value here is this profile's)."""
    owned = _owners(session, typed_ids)
    added = []
    for kind, value in typed_ids.items():
        if kind in owned:
            continue
        # stored form: the value, or (encrypted kinds) its HMAC + AES-GCM ciphertext
        session.add(
            Identity(
                profile_id=profile_id,
                kind=kind,
                **identity_columns(kind, value),
                source_type=MANUAL_SOURCE,
                source_name=actor.email,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
        added.append(kind)
    return added


def _update_matched(
    session: Session,
    actor: Actor,
    profile: Profile,
    parsed: dict[str, Any],
    typed_ids: dict[str, str],
    consent: dict[str, str],
    definitions: dict[str, FieldDefinition],
    kinds: dict[str, IdentityKind],
    rule: SyncRule,
    matched_by: str,
    now: datetime,
) -> CreateResult:
    provenance = {
        p.field_key: p
        for p in session.exec(select(AttributeProvenance).where(AttributeProvenance.profile_id == profile.id)).all()
    }
    changes: dict[str, list[Any]] = {}
    kept: dict[str, str] = {}
    writes: dict[str, Any] = {}
    for key, new in parsed.items():
        if _is_empty(new):
            continue
        definition = definitions[key]
        current = _current_value(profile, definition)
        if _same(current, new):
            continue
        policy = (rule.field_policies or {}).get(key) or rule.default_policy or "overwrite"
        policy = policy if policy in MERGE_POLICIES else MergePolicy.OVERWRITE
        if key in provenance and provenance[key].locked:
            kept[key] = "locked (edited by hand)"
        elif policy == "never":
            kept[key] = "the sync rule never updates this field"
        elif policy == "fill_empty" and not _is_empty(current):
            kept[key] = "the sync rule only fills this field when it is empty"
        else:
            writes[key] = new
            changes[key] = [_audit_value(current), _audit_value(new)]
    _write_values(session, actor, profile, writes, definitions, lock=False, now=now)
    added = _add_identities(session, actor, profile.id, typed_ids, now)
    consent_changes = _write_consent(session, profile.id, consent, actor, now)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="profile.create_matched",
        object_type="profile",
        object_id=profile.id,
        details={
            "matched_by": matched_by,
            "changes": changes,
            "kept": kept,
            "identities_added": added,
            "consent": consent_changes,
        },
    )
    label = _kind_label(kinds, matched_by).lower()
    parts = [
        f"A profile with this {label} already exists ({_profile_name(profile)}"
        + (", deactivated" if profile.status == STATUS_DEACTIVATED else "")
        + "): it was updated instead of creating a new one."
    ]
    if changes:
        parts.append("Updated: " + ", ".join(definitions[k].label for k in changes) + ".")
    if kept:
        parts.append("Kept: " + ", ".join(f"{definitions[k].label} ({why})" for k, why in kept.items()) + ".")
    if not changes and not added and not consent_changes:
        parts.append("Nothing new was entered.")
    return CreateResult(
        profile_id=profile.id,
        matched_existing=True,
        message=" ".join(parts),
        matched_by=matched_by,
        changes=changes,
        kept=kept,
    )


# ---------------------------------------------------------------- edit, locks


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
    profile = _load_profile(session, profile_id, for_update=expected_version is not None)
    definitions = field_definitions(session)
    kinds = identity_kinds(session)
    errors: dict[str, str] = {}
    parsed = _parse_values(values or {}, definitions, kinds, errors, get_settings().default_phone_region)
    for key, value in parsed.items():
        if _is_empty(value) and definitions[key].required_on_create:
            errors[key] = f"{definitions[key].label} is required and cannot be emptied"
    if errors:
        raise ProfileValidationError(errors)
    changes: dict[str, list[Any]] = {}
    writes: dict[str, Any] = {}
    for key, new in parsed.items():
        current = _current_value(profile, definitions[key])
        if (_is_empty(current) and _is_empty(new)) or _same(current, new):
            continue
        writes[key] = new
        changes[key] = [_audit_value(current), _audit_value(new)]
    if not writes:
        return FieldEdit(changes={}, header=ProfileHeader.of(profile), fields=[], event=None)
    if expected_version is not None and profile.version != expected_version:
        raise ProfileChanged([definitions[key].label for key in writes])
    now = utcnow()
    _write_values(session, actor, profile, writes, definitions, lock=True, now=now)
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
    _load_profile(session, profile_id)
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
    _load_profile(session, profile_id)
    errors: dict[str, str] = {}
    parsed = _parse_consent({channel: status}, errors)
    if errors or not parsed:
        raise ProfileValidationError(errors or {f"consent:{channel}": "Choose granted, denied or unknown"})
    changes = _write_consent(session, profile_id, parsed, actor, utcnow())
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


# ---------------------------------------------------------------- identities


def add_identity(*, session: Session, actor: Actor, profile_id: int, kind: str, value: str) -> Identity:
    """Add an identity (normalized like imports) to a profile.

    Raises ProfileValidationError under "identity:<kind>" when the kind is unknown, the
    value unreadable, already on this profile, or owned by another profile (one value
    can never belong to two profiles).
    """
    actor.require(PROFILES_EDIT)
    profile = _load_profile(session, profile_id)
    kinds = identity_kinds(session)
    key = f"{IDENTITY_PREFIX}{kind}"
    if kind not in kinds:
        raise ProfileValidationError({key: f"'{kind}' is not an identity kind of this workspace"})
    try:
        normalized = parse_identity_value(kind, value, region=get_settings().default_phone_region)
    except InvalidValue as exc:
        raise ProfileValidationError({key: str(exc)}) from None
    label = _kind_label(kinds, kind)
    if not normalized:
        raise ProfileValidationError({key: f"Enter the {label.lower()} to add"})
    owner = _owners(session, {kind: normalized}).get(kind)
    if owner == profile.id:
        raise ProfileValidationError({key: f"This profile already has {label.lower()} {normalized}"})
    if owner is not None:
        raise ProfileValidationError({key: f"{label} {normalized} already belongs to profile {owner}"})
    now = utcnow()
    identity = Identity(
        profile_id=profile.id,
        kind=kind,
        **identity_columns(kind, normalized),
        source_type=MANUAL_SOURCE,
        source_name=actor.email,
        first_seen_at=now,
        last_seen_at=now,
    )
    session.add(identity)
    profile.updated_at = now
    session.add(profile)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="identity.add",
        object_type="profile",
        object_id=profile.id,
        details={"kind": kind, "value": audit_value(kind, normalized)},
    )
    return identity


def remove_identity(*, session: Session, actor: Actor, profile_id: int, identity_id: int) -> None:
    """Remove one identity from a profile; never its last one (a profile must stay findable)."""
    actor.require(PROFILES_EDIT)
    profile = _load_profile(session, profile_id)
    identity = session.get(Identity, identity_id)
    if identity is None or identity.profile_id != profile.id:
        raise ProfileError(f"Identity {identity_id} is not on profile {profile_id}")
    remaining = session.execute(
        select(sa.func.count()).select_from(Identity).where(Identity.profile_id == profile.id)
    ).scalar_one()
    if remaining <= 1:
        raise ProfileValidationError(
            {
                f"{IDENTITY_PREFIX}{identity.kind}": (
                    "This is the profile's only identity: add another one before removing it"
                )
            }
        )
    session.delete(identity)
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="identity.remove",
        object_type="profile",
        object_id=profile.id,
        details={
            "kind": identity.kind,
            "value": ENCRYPTED_MARK if identity.is_encrypted else identity.value,
            "source": identity.source_type,
        },
    )
