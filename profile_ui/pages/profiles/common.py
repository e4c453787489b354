"""What the profile pages share: choice lists as the browser sees them, and the
permission names the UI uses to show or hide controls (the services decide)."""

from __future__ import annotations

import dataclasses

from ...services.permissions import (
    PROFILES_CREATE,
    PROFILES_DELETE,
    PROFILES_EDIT,
    PROFILES_EXPORT,
    PROFILES_TAG,
    SETTINGS_MANAGE,
)

__all__ = [
    "Choice",
    "PROFILES_CREATE",
    "PROFILES_DELETE",
    "PROFILES_EDIT",
    "PROFILES_EXPORT",
    "PROFILES_TAG",
    "SETTINGS_MANAGE",
    "ANY",
    "choice_id",
    "plural",
]

# Radix selects cannot hold an empty value: "any" stands for "no condition"
ANY = "any"


@dataclasses.dataclass
class Choice:
    """One entry of a select: the value sent back and the text shown."""

    value: str
    label: str


def plural(n: int, noun: str = "profile") -> str:
    """ "1 profile", "1,234 profiles"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def choice_id(value: str | None) -> int | None:
    """A select's value as an id, or None for "any"/empty/garbage."""
    text = (value or "").strip()
    return int(text) if text.isdigit() else None
