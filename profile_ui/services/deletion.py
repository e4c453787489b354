"""Deleting profiles (permission profiles.delete) and GDPR erasure.

`delete_profiles` puts 1 to 100 profiles in the trash with a mandatory reason:
- they get status "deleted" (with deleted_at / deleted_by / deleted_reason), so they leave
  every list, count, search and export (all of them filter on status);
- their links to accounts, opportunities, tickets and tasks (linked_objects) are removed
  for good, as the confirmation dialog says; a restore does not bring them back;
- their identities, tags, consent, segment and group memberships stay with the profile,
  unseen while it is in the trash, so a restore brings the person back whole. While a
  profile is in the trash its identities stay taken: an import that matches it skips the
  row and says so.
- one audit event records the actor, the time, the reason and the profile ids.

With settings.trash_retention_days == 0 there is no trash: deletion purges at once and
cannot be undone. Restoring and purging live in services/trash.py.

`erase_profile` (GDPR, admins) removes one person's data immediately and for good, from
any status (with the profiles merged into it and the merges' snapshots), and keeps an
audit record that holds no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import (
    STATUS_DELETED,
    Identity,
    ImportRowResult,
    LinkedObject,
    Profile,
    utcnow,
)
from ..settings import get_settings
from .audit import record_event
from .crypto import plain_values
from .file_erasure import PersonMarks, erase_from_files
from .merge_snapshot import forget_merges, merged_into
from .permissions import PROFILES_DELETE, TRASH_MANAGE, Actor

MAX_DELETE_PROFILES = 100
MAX_REASON_LENGTH = 500  # profiles.deleted_reason holds 500 characters
_BATCH = 1000
_EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


class DeletionError(ValueError):
    """Bad input for a deletion (too many, no reason, unknown profile); safe to show."""


@dataclass
class DeletionResult:
    """`purged`: the retention window is 0, so the profiles are gone for good."""

    profile_ids: list[int]
    links_removed: int
    purged: bool


def clean_reason(reason: str | None, *, what: str = "deleting") -> str:
    """The reason, trimmed; refused when empty or longer than MAX_REASON_LENGTH."""
    text = " ".join((reason or "").split())
    if not text:
        raise DeletionError(f"Give a reason for {what} (it is kept in the audit log)")
    if len(text) > MAX_REASON_LENGTH:
        raise DeletionError(f"The reason can have at most {MAX_REASON_LENGTH} characters (it has {len(text)})")
    return text


def _chosen_ids(profile_ids: Sequence[int]) -> list[int]:
    try:
        ids = sorted({int(i) for i in profile_ids})
    except (TypeError, ValueError) as exc:
        raise DeletionError("Profile ids must be whole numbers") from exc
    if not ids:
        raise DeletionError("Select at least one profile to delete")
    if len(ids) > MAX_DELETE_PROFILES:
        raise DeletionError(
            f"Select at most {MAX_DELETE_PROFILES} profiles to delete at once (you selected {len(ids)})"
        )
    return ids


def delete_profiles(
    *,
    session: Session,
    actor: Actor,
    profile_ids: Sequence[int],
    reason: str,
) -> DeletionResult:
    """Delete 1..100 profiles with a reason (see the module docstring for what happens).

    Raises DeletionError for 0 or more than 100 ids, an empty or too long reason, or ids
    that do not exist or are already deleted; PermissionDenied without profiles.delete.
    In the caller's transaction; never commits.
    """
    actor.require(PROFILES_DELETE)
    ids = _chosen_ids(profile_ids)
    reason = clean_reason(reason)
    found = dict(session.execute(select(Profile.id, Profile.status).where(Profile.id.in_(ids))).all())
    missing = [i for i in ids if found.get(i) in (None, STATUS_DELETED)]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise DeletionError(f"Profile {shown} does not exist or is already deleted")

    now = utcnow()
    links = session.execute(sa.delete(LinkedObject).where(LinkedObject.profile_id.in_(ids))).rowcount or 0
    session.execute(
        sa.update(Profile)
        .where(Profile.id.in_(ids))
        .values(status=STATUS_DELETED, deleted_at=now, deleted_by=actor.user_id, deleted_reason=reason, updated_at=now)
    )
    purged = get_settings().trash_retention_days <= 0
    if purged:
        purge_profiles(session=session, profile_ids=ids)
    record_event(
        session=session,
        actor=actor,
        action="profiles.delete",
        object_type="profile",
        object_id=ids[0] if len(ids) == 1 else None,
        reason=reason,
        details={"profile_ids": ids, "count": len(ids), "links_removed": links, "purged_at_once": purged},
    )
    return DeletionResult(profile_ids=ids, links_removed=links, purged=purged)


def purge_profiles(*, session: Session, profile_ids: Sequence[int]) -> int:
    """Remove profiles for good (no checks, no audit: callers do both).

    Identities, tags, consent, provenance, segment and group memberships and links go
    with them (ON DELETE CASCADE), so their e-mails and phone numbers are free again. Import
    row results keep the outcome but lose the field values they held for undo; merge
    records lose their snapshots (those merges can no longer be undone).
    """
    ids = sorted(set(profile_ids))
    removed = 0
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        forget_merges(session, batch)
        session.execute(sa.update(ImportRowResult).where(ImportRowResult.profile_id.in_(batch)).values(changes={}))
        removed += session.execute(sa.delete(Profile).where(Profile.id.in_(batch))).rowcount or 0
    return removed


@dataclass
class ErasureResult:
    """Each place an erasure checked: the database, then the files (file_erasure.py)."""

    places: list[dict]

    def summary(self) -> str:
        went = [f"{p['files_deleted']} {p['place']}" for p in self.places if p.get("files_deleted")]
        return "files deleted: " + ", ".join(went) if went else "no kept file held the person"


def erase_profile(*, session: Session, actor: Actor, profile_id: int, reason: str) -> ErasureResult:
    """GDPR erasure: remove one person's personal data now and for good, whatever its status.

    The profile row and everything hanging off it are deleted (as a purge does), the
    values import results kept for undo are dropped (with the row errors that quote the
    person's cells), every kept file that holds the person is deleted (uploads, cached
    sheets, import error files, export files: services/file_erasure.py), and one audit
    event records the erasure: actor, time, reason, the profile id, counts and each place
    checked — never a name, e-mail or other value of the person. The reason
    is checked for the same: it may not contain an e-mail address or the person's name or
    identifiers. Needs profiles.delete and trash.manage (admins).
    """
    actor.require(PROFILES_DELETE, TRASH_MANAGE)
    reason = clean_reason(reason, what="erasing")
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise DeletionError(f"Profile {profile_id} does not exist")
    identities = session.execute(
        select(Identity.kind, Identity.value, Identity.value_encrypted, Identity.key_id, Identity.is_encrypted).where(
            Identity.profile_id == profile_id
        )
    ).all()
    plain = plain_values(row[1:] for row in identities)
    personal = [v for v in plain if v] + [profile.full_name or ""]
    lowered = reason.casefold()
    if _EMAIL_LIKE.search(reason) or any(len(v) >= 3 and v.casefold() in lowered for v in personal):
        raise DeletionError(
            "The reason must not contain the person's personal data (name, "
            "e-mail, phone, ids): it stays in the audit log after the erasure"
        )
    kinds: dict[str, int] = {}
    for kind, *_stored in identities:
        kinds[kind] = kinds.get(kind, 0) + 1
    marks = PersonMarks.of(
        name=profile.full_name,
        identities=[(row[0], value) for row, value in zip(identities, plain, strict=True) if value],
    )
    files = [place.as_dict() for place in erase_from_files(session=session, profile_id=profile_id, marks=marks)]
    # the profiles merged into this one are the same person: they go too, with the merges' snapshots
    erased = [profile_id, *merged_into(session, profile_id)]
    forget_merges(session, erased)
    session.execute(
        sa.update(ImportRowResult).where(ImportRowResult.profile_id.in_(erased)).values(changes={}, errors=[])
    )
    session.execute(sa.delete(Profile).where(Profile.id.in_(erased)))
    places = [
        {"place": "database", "profile": profile_id, "identities_removed": kinds, "merged_profiles_erased": erased[1:]},
        *files,
    ]
    record_event(
        session=session,
        actor=actor,
        action="profile.erase",
        object_type="profile",
        object_id=profile_id,
        reason=reason,
        details={
            "identities_removed": kinds,
            "was_status": profile.status,
            "merged_profiles_erased": erased[1:],
            "places": places,
        },
    )
    return ErasureResult(places=places)
