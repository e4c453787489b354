"""Settings > Users and roles: the roles (sets of permissions; built-in roles are fixed)
and whether an account may sign in. Creating users, changing a user's role and unlocking
an account are `users.py`'s. Everything here needs settings.manage.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import IdentityKind, Role, User
from ..permissions import ALL_PERMISSIONS, SETTINGS_MANAGE, Actor, export_identity_permission
from .common import SettingsError, audit_change, clean_name, get_or_refuse


def available_permissions(*, session: Session, actor: Actor) -> list[str]:
    """Every permission a role can hold, including one export permission per identity kind."""
    actor.require(SETTINGS_MANAGE)
    kinds = session.exec(select(IdentityKind.key).order_by(col(IdentityKind.position))).all()
    return [*ALL_PERMISSIONS, *(export_identity_permission(k) for k in kinds)]


def list_roles(*, session: Session, actor: Actor) -> list[tuple[Role, int]]:
    """Roles with how many users hold each."""
    actor.require(SETTINGS_MANAGE)
    counts: dict[int, int] = dict(
        session.execute(select(User.role_id, sa.func.count()).group_by(col(User.role_id))).tuples().all()
    )
    return [(role, counts.get(role.id or 0, 0)) for role in session.exec(select(Role).order_by(col(Role.id))).all()]


def _permissions(session: Session, actor: Actor, permissions: list[str]) -> list[str]:
    allowed = set(available_permissions(session=session, actor=actor))
    unknown = [p for p in permissions if p not in allowed]
    if unknown:
        raise SettingsError(f"Unknown permission '{unknown[0]}'")
    return sorted(set(permissions))


def create_role(*, session: Session, actor: Actor, name: str, permissions: list[str], description: str = "") -> Role:
    actor.require(SETTINGS_MANAGE)
    name = clean_name(name, "role", 64)
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
    audit_change(session, actor, "role.create", "role", role.id, name=name, permissions=role.permissions)
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
    role = get_or_refuse(session, Role, role_id, "role")
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
        audit_change(session, actor, "role.update", "role", role_id, name=role.name, changes=changes)
    return role


def delete_role(*, session: Session, actor: Actor, role_id: int) -> None:
    actor.require(SETTINGS_MANAGE)
    role = get_or_refuse(session, Role, role_id, "role")
    if role.is_builtin:
        raise SettingsError(f"'{role.name}' is a built-in role and cannot be deleted")
    users = session.execute(select(sa.func.count()).select_from(User).where(col(User.role_id) == role_id)).scalar_one()
    if users:
        raise SettingsError(f"{users} users have the role '{role.name}': give them another role first")
    session.delete(role)
    session.flush()
    audit_change(session, actor, "role.delete", "role", role_id, name=role.name)


def set_user_active(*, session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate a user (they are signed out and cannot sign in) or reactivate them."""
    actor.require(SETTINGS_MANAGE)
    user = get_or_refuse(session, User, user_id, "user")
    if not active and user.id == actor.user_id:
        raise SettingsError("You cannot deactivate your own account")
    if user.is_active != bool(active):
        user.is_active = bool(active)
        session.add(user)
        session.flush()
        audit_change(
            session, actor, "user.activate" if active else "user.deactivate", "user", user_id, email=user.email
        )
    return user
