"""The error every profile service raises for bad input, and the one loader of a profile
about to change (a profile in the trash is refused)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from ...models import (
    STATUS_DELETED,
    Profile,
)


def checked_id(value: int | None) -> int:
    """The id of a row read from the database (only unsaved rows have none)."""
    if value is None:
        raise ValueError("a row read from the database has no id")
    return value


class ProfileError(ValueError):
    """Bad input for a profile operation; the message is safe to show."""


def in_trash_message(profile_ids: Sequence[int]) -> str:
    ids = ", ".join(map(str, list(profile_ids)[:5])) + ("…" if len(profile_ids) > 5 else "")
    one = len(profile_ids) == 1
    return (
        f"Profile{'' if one else 's'} {ids} {'is' if one else 'are'} in the trash and cannot be "
        f"changed: restore {'it' if one else 'them'} first"
    )


def changeable_profile(session: Session, profile_id: int, *, for_update: bool = False) -> Profile:
    """The profile a change is about. Every service that changes a profile loads it through
    here: a profile in the trash is refused (a later restore brings it back as it was
    deleted), and so is one that does not exist. `for_update` locks its row (read anew, not
    from the session's cache) until the transaction ends."""
    profile = session.get(Profile, profile_id, with_for_update=for_update or None, populate_existing=for_update)
    if profile is None:
        raise ProfileError(f"Profile {profile_id} does not exist")
    if profile.status == STATUS_DELETED:
        raise ProfileError(in_trash_message([profile_id]))
    return profile
