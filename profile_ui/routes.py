"""Route constants, the permission each page needs, and URL builders.

`PAGE_PERMISSIONS` is the one place that says who may open which page: the sidebar
hides a link and the page's on_load refuses the visit from the same table.
"""

from __future__ import annotations

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

INDEX = "/"
LOGIN = "/login"
PROFILES = "/profiles"
PROFILE_NEW = "/profiles/new"
# dynamic segment: Reflex exposes it to states as the route arg `profile_id`
PROFILE_DETAIL = "/profiles/[profile_id]"
IMPORTS = "/imports"
IMPORT_NEW = "/imports/new"
# dynamic segment: one import's report and progress (route arg `import_id`)
IMPORT_DETAIL = "/imports/[import_id]"
# a membership file's review: invite / update / deactivate-or-delete (route arg `import_id`)
IMPORT_REVIEW = "/imports/[import_id]/review"
SEGMENTS = "/segments"
TAGS = "/tags"
EXPORTS = "/exports"
TRASH = "/trash"
DUPLICATES = "/duplicates"
AUDIT = "/audit"
SETTINGS = "/settings"

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


def profile_url(profile_id: int | str) -> str:
    """The User 360 page of one profile."""
    return f"{PROFILES}/{profile_id}"


def import_review_url(import_id: int | str) -> str:
    """A membership file's review page."""
    return f"{IMPORTS}/{import_id}/review"


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
