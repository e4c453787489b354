"""Adding and removing the identities of a profile (never edited as attributes)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from ...models import (
    IDENTITY_PREFIX,
    Identity,
    utcnow,
)
from ...settings import get_settings
from ..audit import record_event
from ..catalog import identity_kinds
from ..crypto import ENCRYPTED_MARK, audit_value, identity_columns
from ..importing.normalize import InvalidValue
from ..permissions import PROFILES_EDIT, Actor
from ..profiles.errors import ProfileError, checked_id
from .common import (
    MANUAL_SOURCE,
    ProfileValidationError,
    identity_owners,
    kind_label,
    load_profile,
    parse_identity_value,
)


def add_identity(*, session: Session, actor: Actor, profile_id: int, kind: str, value: str) -> Identity:
    """Add an identity (normalized like imports) to a profile.

    Raises ProfileValidationError under "identity:<kind>" when the kind is unknown, the
    value unreadable, already on this profile, or owned by another profile (one value
    can never belong to two profiles).
    """
    actor.require(PROFILES_EDIT)
    profile = load_profile(session, profile_id)
    kinds = identity_kinds(session)
    key = f"{IDENTITY_PREFIX}{kind}"
    if kind not in kinds:
        raise ProfileValidationError({key: f"'{kind}' is not an identity kind of this workspace"})
    try:
        normalized = parse_identity_value(kind, value, region=get_settings().default_phone_region)
    except InvalidValue as exc:
        raise ProfileValidationError({key: str(exc)}) from None
    label = kind_label(kinds, kind)
    if not normalized:
        raise ProfileValidationError({key: f"Enter the {label.lower()} to add"})
    owner = identity_owners(session, {kind: normalized}).get(kind)
    if owner == profile.id:
        raise ProfileValidationError({key: f"This profile already has {label.lower()} {normalized}"})
    if owner is not None:
        raise ProfileValidationError({key: f"{label} {normalized} already belongs to profile {owner}"})
    now = utcnow()
    identity = Identity(
        profile_id=checked_id(profile.id),
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
    profile = load_profile(session, profile_id)
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
