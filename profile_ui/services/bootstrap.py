"""Reference data every workspace has: built-in roles, system fields, identity kinds, sync rule."""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import FieldDefinition, IdentityKind, SyncRule
from .catalog import default_sync_rule
from .users import ensure_builtin_roles

# key, label, type, options, pii  (the system columns of `profiles`)
SYSTEM_FIELDS: list[tuple[str, str, str, list[str], bool]] = [
    ("full_name", "Full name", "text", [], True),
    ("gender", "Gender", "single_choice", ["Male", "Female", "Other"], False),
    ("birthday", "Birthday", "date", [], True),
    ("city", "City", "text", [], False),
    ("member_level", "Member level", "single_choice", ["Bronze", "Silver", "Gold", "Platinum"], False),
    ("registered_at", "Registration time", "datetime", [], False),
]
IDENTITY_KINDS = [("user_id", "User ID"), ("email", "Email"), ("phone", "Phone")]


def ensure_reference_data(*, session: Session) -> None:
    """Idempotent: safe to run on every `db upgrade`."""
    ensure_builtin_roles(session=session)
    for position, (key, label, type_, options, pii) in enumerate(SYSTEM_FIELDS):
        if session.get(FieldDefinition, key) is None:
            session.add(
                FieldDefinition(
                    key=key,
                    label=label,
                    type=type_,
                    options=options,
                    is_system=True,
                    is_pii=pii,
                    position=position,
                    required_on_create=key == "full_name",
                )
            )
    for position, (key, label) in enumerate(IDENTITY_KINDS):
        if session.get(IdentityKind, key) is None:
            session.add(IdentityKind(key=key, label=label, is_builtin=True, position=position))
    if session.exec(select(SyncRule)).first() is None:
        session.add(default_sync_rule())
    session.flush()
