"""Settings > Sync rule > Identity kinds: the kinds of id a profile can hold (built in:
user id, e-mail, phone; custom: a loyalty card number, a CRM id...). A custom kind
identifies a person only once the sync rule lists it; deleting it takes it out of the rule.

Reading needs profiles.view; a change needs settings.manage.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from ...models import FieldDefinition, Identity, IdentityKind, SyncRule
from ..catalog import identity_kinds
from ..permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .common import RESERVED_KEYS, SettingsError, audit_change, check_key, clean_name, make_key


def list_identity_kinds(*, session: Session, actor: Actor) -> list[IdentityKind]:
    actor.require(PROFILES_VIEW)
    return list(identity_kinds(session).values())


def create_identity_kind(*, session: Session, actor: Actor, label: str, key: str | None = None) -> IdentityKind:
    """A custom id kind (loyalty card number, CRM id...). Not an identifier in the sync
    rule until added there."""
    actor.require(SETTINGS_MANAGE)
    label = clean_name(label, "identity kind")
    key = check_key(key or make_key(label))
    taken = session.get(IdentityKind, key) is not None or session.get(FieldDefinition, key) is not None
    if taken or key in RESERVED_KEYS:
        raise SettingsError(f"The key '{key}' is already used: choose another label or key")
    position = (session.execute(select(sa.func.max(IdentityKind.position))).scalar_one() or 0) + 1
    kind = IdentityKind(key=key, label=label, is_builtin=False, position=position)
    session.add(kind)
    session.flush()
    audit_change(session, actor, "identity_kind.create", "identity_kind", key, label=label)
    return kind


def rename_identity_kind(*, session: Session, actor: Actor, key: str, label: str) -> IdentityKind:
    actor.require(SETTINGS_MANAGE)
    kind = session.get(IdentityKind, key)
    if kind is None:
        raise SettingsError(f"There is no identity kind '{key}'")
    before, kind.label = kind.label, clean_name(label, "identity kind")
    session.add(kind)
    session.flush()
    audit_change(session, actor, "identity_kind.rename", "identity_kind", key, before=before, after=kind.label)
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
    audit_change(session, actor, "identity_kind.delete", "identity_kind", key, label=kind.label)
