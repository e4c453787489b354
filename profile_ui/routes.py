"""The permission each page needs and the sidebar; the paths themselves are in links.py.

`PAGE_PERMISSIONS` is the one place that says who may open which page: the sidebar
hides a link and the page's on_load refuses the visit from the same table.
"""

from __future__ import annotations

from .links import (  # the pages' paths, here too for the pages that import routes
    AUDIT,
    DUPLICATES,
    EXPORTS,
    IMPORT_DETAIL,
    IMPORT_NEW,
    IMPORT_REVIEW,
    IMPORTS,
    INDEX,
    LOGIN,
    PROFILE_DETAIL,
    PROFILE_NEW,
    PROFILES,
    SEGMENTS,
    SETTINGS,
    TAGS,
    TRASH,
    import_review_url,
    profile_url,
)
from .services.permissions import (
    AUDIT_VIEW,
    PROFILES_CREATE,
    PROFILES_EXPORT,
    PROFILES_IMPORT,
    PROFILES_MERGE,
    PROFILES_TAG,
    PROFILES_VIEW,
    SETTINGS_MANAGE,
    TRASH_MANAGE,
)

# route -> permissions of which the actor needs at least one
PAGE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    PROFILES: (PROFILES_VIEW,),
    PROFILE_NEW: (PROFILES_CREATE,),
    PROFILE_DETAIL: (PROFILES_VIEW,),
    IMPORTS: (PROFILES_IMPORT,),
    IMPORT_NEW: (PROFILES_IMPORT,),
    IMPORT_DETAIL: (PROFILES_IMPORT,),
    IMPORT_REVIEW: (PROFILES_IMPORT,),
    SEGMENTS: (PROFILES_VIEW,),
    TAGS: (PROFILES_TAG, PROFILES_VIEW),
    EXPORTS: (PROFILES_EXPORT,),
    TRASH: (TRASH_MANAGE,),
    DUPLICATES: (PROFILES_MERGE,),
    AUDIT: (AUDIT_VIEW,),
    SETTINGS: (SETTINGS_MANAGE,),
}

# The sidebar, in order: (label, route, icon name as rx.icon spells it)
NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("Profiles", PROFILES, "users"),
    ("Imports", IMPORTS, "upload"),
    ("Segments", SEGMENTS, "chart_pie"),
    ("Tags", TAGS, "tags"),
    ("Exports", EXPORTS, "download"),
    ("Duplicates", DUPLICATES, "copy"),
    ("Trash", TRASH, "trash_2"),
    ("Audit log", AUDIT, "scroll_text"),
    ("Settings", SETTINGS, "settings"),
)


def may_open(route: str, permissions: frozenset[str] | set[str]) -> bool:
    """Whether someone holding `permissions` may open `route` (unknown routes: yes)."""
    needed = PAGE_PERMISSIONS.get(route)
    return needed is None or any(p in permissions for p in needed)


def first_allowed_page(permissions: frozenset[str] | set[str]) -> str:
    """Where to land after sign-in: the first sidebar page the user may open."""
    for _label, route, _icon in NAVIGATION:
        if may_open(route, permissions):
            return route
    return PROFILES


__all__ = [
    "AUDIT",
    "EXPORTS",
    "IMPORTS",
    "IMPORT_DETAIL",
    "IMPORT_NEW",
    "IMPORT_REVIEW",
    "INDEX",
    "LOGIN",
    "NAVIGATION",
    "PAGE_PERMISSIONS",
    "PROFILES",
    "PROFILE_DETAIL",
    "PROFILE_NEW",
    "SEGMENTS",
    "SETTINGS",
    "TAGS",
    "TRASH",
    "first_allowed_page",
    "import_review_url",
    "may_open",
    "profile_url",
]
