"""The trash (permission trash.manage, admins): deleted profiles, restorable for
settings.trash_retention_days after their deletion, then purged for good.

- `list_trash`: one page of deleted profiles, newest deletion first, with who deleted
  them, why, and when they will be purged.
- `restore_profiles`: back to active, within the window; audited. Their identities,
  tags, consent and memberships come back with them; their links to accounts,
  opportunities, tickets and tasks were removed at deletion and do not.
  Profiles merged into another ("merged into N", by an import's sync rule or by hand)
  cannot be restored here: their identities and data moved to the surviving profile, and
  the merge is undone from that profile's User 360 page instead (services/merging.py).
- `purge_expired`: removes the profiles whose window has passed, with their identities,
  so the same e-mail can come back as a new person. A profile merged into another stays
  as long as the merge can be undone. The purge job (jobs/purge.py) runs it
  daily; `profile-ui purge` runs it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import STATUS_ACTIVE, STATUS_DELETED, Profile, ProfileMerge, User, utcnow
from ..models.merge import MERGED_REASON_PREFIX
from ..settings import get_settings
from .audit import record_event
from .deletion import DeletionError, purge_profiles
from .permissions import SYSTEM_ACTOR, TRASH_MANAGE, Actor
from .profiles import ProfileFilter, filter_condition

MAX_RESTORE_PROFILES = 100
TRASH_PAGE_SIZE = 50


class TrashError(DeletionError):
    """A restore that cannot happen (unknown id, window passed, merged); safe to show."""


@dataclass
class TrashItem:
    profile_id: int
    full_name: str | None
    deleted_at: datetime | None
    deleted_by: str | None  # the user's e-mail ("system" for jobs, None when unknown)
    reason: str | None
    purge_after: datetime | None  # deleted_at + the retention window
    restorable: bool  # within the window and not merged into another profile


@dataclass
class TrashPage:
    items: list[TrashItem]
    total: int
    page: int
    page_size: int
    retention_days: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def retention() -> timedelta:
    return timedelta(days=max(get_settings().trash_retention_days, 0))


def list_trash(
    *,
    session: Session,
    actor: Actor,
    text: str = "",
    page: int = 1,
    page_size: int = TRASH_PAGE_SIZE,
    now: datetime | None = None,
) -> TrashPage:
    """Deleted profiles, most recently deleted first; `text` searches like the list's
    query box (name start, e-mail, phone, user id)."""
    actor.require(TRASH_MANAGE)
    now = now or utcnow()
    window = retention()
    where = filter_condition(ProfileFilter(text=text, status=STATUS_DELETED))
    total = session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    page = max(int(page), 1)
    rows = session.execute(
        select(
            Profile.id, Profile.full_name, Profile.deleted_at, Profile.deleted_by, Profile.deleted_reason, User.email
        )
        .outerjoin(User, User.id == Profile.deleted_by)
        .where(where)
        .order_by(Profile.deleted_at.desc(), Profile.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = []
    for pid, name, deleted_at, deleted_by, reason, email in rows:
        purge_after = deleted_at + window if deleted_at else None
        merged = (reason or "").startswith(MERGED_REASON_PREFIX)
        items.append(
            TrashItem(
                profile_id=pid,
                full_name=name,
                deleted_at=deleted_at,
                deleted_by=email if email else ("system" if deleted_by is None else None),
                reason=reason,
                purge_after=purge_after,
                restorable=not merged and purge_after is not None and purge_after > now,
            )
        )
    return TrashPage(
        items=items, total=total, page=page, page_size=page_size, retention_days=get_settings().trash_retention_days
    )


def restore_profiles(
    *,
    session: Session,
    actor: Actor,
    profile_ids: Sequence[int],
    now: datetime | None = None,
) -> list[int]:
    """Bring deleted profiles back (status active) within the retention window; audited.

    Raises TrashError naming the profiles that are not in the trash, past their window,
    or were merged into another profile; nothing is restored then.
    """
    actor.require(TRASH_MANAGE)
    ids = sorted({int(i) for i in profile_ids})
    if not ids:
        raise TrashError("Select at least one profile to restore")
    if len(ids) > MAX_RESTORE_PROFILES:
        raise TrashError(f"Select at most {MAX_RESTORE_PROFILES} profiles to restore at once")
    now = now or utcnow()
    window = retention()
    rows = {
        pid: (status, deleted_at, reason)
        for pid, status, deleted_at, reason in session.execute(
            select(Profile.id, Profile.status, Profile.deleted_at, Profile.deleted_reason).where(Profile.id.in_(ids))
        ).all()
    }
    problems = []
    for pid in ids:
        status, deleted_at, reason = rows.get(pid, (None, None, None))
        if status != STATUS_DELETED:
            problems.append(f"profile {pid} is not in the trash")
        elif (reason or "").startswith(MERGED_REASON_PREFIX):
            problems.append(
                f"profile {pid} was {reason}; its data is there now (undo the merge on that profile's page)"
            )
        elif deleted_at is None or deleted_at + window <= now:
            problems.append(f"profile {pid} was deleted more than {get_settings().trash_retention_days} days ago")
    if problems:
        raise TrashError("Cannot restore: " + "; ".join(problems))
    session.execute(
        sa.update(Profile)
        .where(Profile.id.in_(ids))
        .values(status=STATUS_ACTIVE, deleted_at=None, deleted_by=None, deleted_reason=None, updated_at=now)
    )
    record_event(
        session=session,
        actor=actor,
        action="profiles.restore",
        object_type="profile",
        object_id=ids[0] if len(ids) == 1 else None,
        details={"profile_ids": ids, "count": len(ids), "reasons": sorted({rows[pid][2] or "" for pid in ids})},
    )
    return ids


def purge_expired(*, session: Session, actor: Actor = SYSTEM_ACTOR, now: datetime | None = None) -> int:
    """Remove for good the deleted profiles whose retention window has passed; how many.
    (A deleted profile without a deletion time counts as deleted long ago.)

    Their identities go with them, so the same e-mail or phone can come back as a new
    person. One audit event lists the purged profile ids (no personal data).
    """
    actor.require(TRASH_MANAGE)
    now = now or utcnow()
    cutoff = now - retention()
    # a profile merged into another stays while the merge can be undone (services/merging.py)
    merged = select(ProfileMerge.merged_id).where(ProfileMerge.undone_at.is_(None))
    ids = list(
        session.execute(
            select(Profile.id)
            .where(
                Profile.status == STATUS_DELETED,
                Profile.id.not_in(merged),
                sa.or_(Profile.deleted_at.is_(None), Profile.deleted_at <= cutoff),
            )
            .order_by(Profile.id)
        ).scalars()
    )
    if not ids:
        return 0
    removed = purge_profiles(session=session, profile_ids=ids)
    record_event(
        session=session,
        actor=actor,
        action="profiles.purge",
        object_type="profile",
        details={
            "count": removed,
            "deleted_before": cutoff.isoformat(),
            "profile_ids": ids[:1000],
            "ids_listed": min(len(ids), 1000),
        },
    )
    return removed
