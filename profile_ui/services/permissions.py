"""Permissions, built-in roles and the Actor every service call receives."""

from __future__ import annotations

from dataclasses import dataclass, field

PROFILES_VIEW = "profiles.view"
PROFILES_CREATE = "profiles.create"
PROFILES_EDIT = "profiles.edit"
PROFILES_DELETE = "profiles.delete"
PROFILES_IMPORT = "profiles.import"
PROFILES_EXPORT = "profiles.export"
PROFILES_TAG = "profiles.tag"
PROFILES_MERGE = "profiles.merge"  # merge two profiles into one, and undo a merge
SETTINGS_MANAGE = "settings.manage"
AUDIT_VIEW = "audit.view"
TRASH_MANAGE = "trash.manage"
EXPORT_IDENTITY_PREFIX = "export.identity."  # + identity kind, e.g. export.identity.phone

ALL_PERMISSIONS = (
    PROFILES_VIEW,
    PROFILES_CREATE,
    PROFILES_EDIT,
    PROFILES_DELETE,
    PROFILES_IMPORT,
    PROFILES_EXPORT,
    PROFILES_TAG,
    PROFILES_MERGE,
    SETTINGS_MANAGE,
    AUDIT_VIEW,
    TRASH_MANAGE,
)


def export_identity_permission(kind: str) -> str:
    return f"{EXPORT_IDENTITY_PREFIX}{kind}"


_IDENTITY_EXPORTS = [export_identity_permission(k) for k in ("user_id", "email", "phone")]

BUILTIN_ROLES: dict[str, tuple[str, list[str]]] = {
    "viewer": ("Sees profiles; changes nothing", [PROFILES_VIEW]),
    "marketer": (
        "Imports, edits, tags, merges and exports profiles",
        [
            PROFILES_VIEW,
            PROFILES_CREATE,
            PROFILES_EDIT,
            PROFILES_IMPORT,
            PROFILES_EXPORT,
            PROFILES_TAG,
            PROFILES_MERGE,
            *_IDENTITY_EXPORTS,
        ],
    ),
    "admin": ("Everything, including settings, users, trash and the audit log", [*ALL_PERMISSIONS, *_IDENTITY_EXPORTS]),
}


class PermissionDenied(Exception):
    """The actor lacks a permission; the message says which, for a person to read."""

    def __init__(self, permission: str, actor: "Actor | None" = None) -> None:
        self.permission = permission
        who = actor.email if actor else "this user"
        super().__init__(f"{who} is not allowed to do this (needs permission '{permission}')")


class NotSignedIn(PermissionDenied):
    def __init__(self) -> None:
        Exception.__init__(self, "Your session has ended. Please sign in again.")
        self.permission = "signed_in"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the system (CLI, jobs) acting as one."""

    user_id: int | None
    email: str
    role: str
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, *permissions: str) -> None:
        for permission in permissions:
            if permission not in self.permissions:
                raise PermissionDenied(permission, self)


SYSTEM_ACTOR = Actor(
    user_id=None,
    email="system",
    role="system",
    permissions=frozenset(BUILTIN_ROLES["admin"][1]),
)
