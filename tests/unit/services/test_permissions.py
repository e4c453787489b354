"""Roles are built from permissions; an Actor refuses what its role lacks."""

from __future__ import annotations

import pytest
from sqlmodel import select

from profile_ui.models import Role
from profile_ui.services.permissions import (
    ALL_PERMISSIONS,
    AUDIT_VIEW,
    BUILTIN_ROLES,
    PROFILES_DELETE,
    PROFILES_EDIT,
    PROFILES_EXPORT,
    PROFILES_IMPORT,
    PROFILES_TAG,
    PROFILES_VIEW,
    SETTINGS_MANAGE,
    SYSTEM_ACTOR,
    TRASH_MANAGE,
    Actor,
    NotSignedIn,
    PermissionDenied,
    export_identity_permission,
)
from profile_ui.services.users import ensure_builtin_roles


def actor(role: str) -> Actor:
    return Actor(user_id=1, email=f"{role}@example.com", role=role, permissions=frozenset(BUILTIN_ROLES[role][1]))


def test_viewer_only_views():
    viewer = actor("viewer")
    assert viewer.can(PROFILES_VIEW)
    for permission in ALL_PERMISSIONS:
        if permission != PROFILES_VIEW:
            assert not viewer.can(permission), permission
    assert not viewer.can(export_identity_permission("phone"))


def test_marketer_works_with_profiles_but_not_settings_trash_or_audit():
    marketer = actor("marketer")
    for permission in (PROFILES_VIEW, PROFILES_EDIT, PROFILES_IMPORT, PROFILES_EXPORT, PROFILES_TAG):
        assert marketer.can(permission), permission
    for permission in (SETTINGS_MANAGE, PROFILES_DELETE, TRASH_MANAGE, AUDIT_VIEW):
        assert not marketer.can(permission), permission
    for kind in ("user_id", "email", "phone"):
        assert marketer.can(export_identity_permission(kind))


def test_admin_and_system_can_do_everything():
    for who in (actor("admin"), SYSTEM_ACTOR):
        for permission in ALL_PERMISSIONS:
            assert who.can(permission), permission


def test_require_names_the_missing_permission():
    viewer = actor("viewer")
    viewer.require(PROFILES_VIEW)
    with pytest.raises(PermissionDenied) as caught:
        viewer.require(PROFILES_VIEW, PROFILES_DELETE)
    assert caught.value.permission == PROFILES_DELETE
    assert "viewer@example.com" in str(caught.value) and PROFILES_DELETE in str(caught.value)


def test_not_signed_in_is_a_permission_error_with_a_readable_message():
    error = NotSignedIn()
    assert isinstance(error, PermissionDenied)
    assert "sign in again" in str(error)


def test_custom_role_from_permissions():
    exporter = Actor(
        user_id=2,
        email="x@example.com",
        role="email exporter",
        permissions=frozenset({PROFILES_VIEW, PROFILES_EXPORT, export_identity_permission("email")}),
    )
    assert exporter.can(export_identity_permission("email"))
    assert not exporter.can(export_identity_permission("phone"))


def test_builtin_roles_in_the_database_match_the_code(session):
    roles = {r.name: r for r in session.exec(select(Role)).all()}
    for name, (_description, permissions) in BUILTIN_ROLES.items():
        assert roles[name].is_builtin
        assert sorted(roles[name].permissions) == sorted(permissions)


def test_ensure_builtin_roles_repairs_an_edited_builtin_role(session):
    viewer = session.exec(select(Role).where(Role.name == "viewer")).one()
    viewer.permissions = [PROFILES_VIEW, PROFILES_DELETE]
    session.add(viewer)
    session.commit()
    ensure_builtin_roles(session=session)
    session.commit()
    session.refresh(viewer)
    assert viewer.permissions == [PROFILES_VIEW]
    assert len(session.exec(select(Role)).all()) == len(BUILTIN_ROLES)
