"""Paths of the pages and URL builders, for links in pages, notifications and e-mails.

A leaf: it imports nothing of the app, so services and jobs may build links with it.
routes.py (above services) adds who may open which page and the sidebar.
"""

from __future__ import annotations

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


def profile_url(profile_id: int | str) -> str:
    """The User 360 page of one profile."""
    return f"{PROFILES}/{profile_id}"


def import_report_url(import_id: int | str) -> str:
    """One import's report and progress."""
    return f"{IMPORTS}/{import_id}"


def import_review_url(import_id: int | str) -> str:
    """A membership file's review page."""
    return f"{IMPORTS}/{import_id}/review"


def export_download_url(export_id: int | str) -> str:
    """Where the file of one export is downloaded (served by web/export_download.py)."""
    return f"{EXPORTS}/{export_id}/download"
