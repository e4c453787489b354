"""What creating, editing and the identities of a hand-made profile share: the errors a
form shows, reading typed text into values (field_values.py's parsers, identities
normalized like imports), and writing values with their provenance, identities and consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlmodel import Session

from ...models import (
    IDENTITY_PREFIX,
    SYSTEM_COLUMNS,
    AttributeProvenance,
    Consent,
    FieldDefinition,
    Identity,
    IdentityKind,
    Profile,
)
from ..crypto import identity_columns
from ..importing.changes_json import json_value
from ..importing.field_values import parse_field_value
from ..importing.normalize import InvalidValue, clean_text, normalize_email, normalize_phone
from ..importing.resolve import find_identity_owners
from ..permissions import Actor
from ..profiles.errors import ProfileError, changeable_profile, checked_id
from ..workspace_settings import CONSENT_CHANNELS, CONSENT_STATUSES

MANUAL_SOURCE = "manual"
MANUAL_INITIAL_SOURCE = "Created manually"
CONTACT_KINDS = ("email", "phone")  # a new profile needs at least one of these
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


def kind_label(kinds: dict[str, IdentityKind], kind: str) -> str:
    found = kinds.get(kind)
    return _KIND_LABELS.get(kind) or (found.label if found else kind)


def current_value(profile: Profile, definition: FieldDefinition) -> Any:
    if definition.is_system or definition.key in SYSTEM_COLUMNS:
        return getattr(profile, definition.key)
    return (profile.attributes or {}).get(definition.key)


def stored_form(value: Any, definition: FieldDefinition) -> Any:
    """The form a value is compared and stored in (JSON-ready for custom attributes)."""
    if definition.is_system or definition.key in SYSTEM_COLUMNS:
        return value
    return json_value(value)


def same_value(current: Any, new: Any) -> bool:
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current == new
    return json_value(current) == json_value(new)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def json_for_audit(value: Any) -> Any:
    return json_value(value)


def parse_values(
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
                f"{kind_label(kinds, kind)} is an identity and cannot be edited as an "
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


def load_profile(session: Session, profile_id: int, *, for_update: bool = False) -> Profile:
    return changeable_profile(session, profile_id, for_update=for_update)  # refuses a profile in the trash


def profile_name(profile: Profile) -> str:
    return f"profile {profile.id}" + (f" ({profile.full_name})" if profile.full_name else "")


def write_values(
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
        elif is_empty(value):
            attributes.pop(key, None)
        else:
            attributes[key] = stored_form(value, definition)
    profile.attributes = attributes
    profile.updated_at = now
    session.add(profile)
    for key in new_values:
        provenance = session.get(AttributeProvenance, (profile.id, key)) or AttributeProvenance(
            profile_id=checked_id(profile.id), field_key=key, source_type=MANUAL_SOURCE
        )
        provenance.source_type = MANUAL_SOURCE
        provenance.source_name = actor.email
        provenance.import_job_id = None
        provenance.set_by = actor.user_id
        provenance.set_at = now
        provenance.locked = lock
        session.add(provenance)


def identity_owners(session: Session, typed_ids: dict[str, str]) -> dict[str, int]:
    """identity kind -> the profile that owns the typed value today (the import's lookup)."""
    owners: dict[str, int] = {}
    for kind, value in typed_ids.items():
        found = find_identity_owners(session=session, kind=kind, values=pl.Series([value], dtype=pl.Utf8))
        if found.height:
            owners[kind] = int(found["profile_id"][0])
    return owners


def parse_consent(consent: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
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


def write_consent(
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


def add_identities(
    session: Session, actor: Actor, profile_id: int, typed_ids: dict[str, str], now: datetime
) -> list[str]:
    """Add the typed identities this profile does not have yet (the callers refused values
    owned by another profile, so an owned value here is this profile's)."""
    owned = identity_owners(session, typed_ids)
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
