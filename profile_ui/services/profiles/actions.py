"""Changes to profiles other than field edits: status (deactivate, reactivate), tags and
groups, for one profile or many (explicit ids, or all profiles matching a filter).

Bulk writes go in chunks of 5,000 ids with plain INSERT/DELETE statements (no ORM object
per profile); one audit event per action (plus one on the profile when it is a single one).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import (
    MEMBERSHIP_STATES,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    Group,
    GroupMembership,
    Profile,
    ProfileTag,
    Tag,
    utcnow,
)
from ..audit import record_event
from ..permissions import PROFILES_EDIT, PROFILES_TAG, Actor
from .errors import ProfileError, changeable_profile, in_trash_message
from .filters import ProfileFilter, check_filter, filter_condition

TAG_POLICIES = ("overwrite", "ignore")  # later imports: the data wins | this tag wins


def set_profile_status(*, session: Session, actor: Actor, profile_id: int, active: bool) -> Profile:
    """Deactivate (hidden from lists and programs, reversible) or reactivate a profile."""
    actor.require(PROFILES_EDIT)
    profile = changeable_profile(session, profile_id)
    new_status = STATUS_ACTIVE if active else STATUS_DEACTIVATED
    if profile.status != new_status:
        profile.status = new_status
        profile.updated_at = utcnow()
        session.add(profile)
        record_event(
            session=session,
            actor=actor,
            action="profile.reactivate" if active else "profile.deactivate",
            object_type="profile",
            object_id=profile_id,
        )
    return profile


# ---------------------------------------------------------------- bulk actions


def _selected_ids(
    session: Session, actor: Actor, profile_ids: Sequence[int] | None, flt: ProfileFilter | None
) -> list[int]:
    """The profiles a bulk action applies to: explicit ids, or "all N matching" a filter."""
    if (profile_ids is None) == (flt is None):
        raise ProfileError("Choose the profiles: give either their ids or a filter")
    if flt is not None:
        check_filter(flt)
        if flt.status == STATUS_DELETED:
            raise ProfileError("Profiles in the trash cannot be changed: restore them first")
        return list(
            session.execute(select(Profile.id).where(filter_condition(flt)).order_by(col(Profile.id))).scalars()
        )
    ids = sorted({int(i) for i in profile_ids or ()})
    if not ids:
        return []
    statuses: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        statuses.update(session.execute(select(Profile.id, Profile.status).where(col(Profile.id).in_(chunk))).all())
    missing = [i for i in ids if i not in statuses]
    if missing:
        raise ProfileError(f"Profile {', '.join(map(str, missing[:5]))} does not exist")
    trashed = [i for i in ids if statuses[i] == STATUS_DELETED]
    if trashed:
        raise ProfileError(in_trash_message(trashed))
    return ids


def _deleted(session: Session, statement: sa.Delete) -> int:
    """Run a DELETE; how many rows it removed."""
    result = session.execute(statement)
    return result.rowcount if isinstance(result, sa.CursorResult) else 0


def tag_profiles(
    *,
    session: Session,
    actor: Actor,
    tag_id: int,
    value: str = "",
    policy: str = "ignore",
    profile_ids: Sequence[int] | None = None,
    flt: ProfileFilter | None = None,
) -> int:
    """Give a tag (with a value) to profiles: the given ids, or all matching `flt`.

    Returns how many profiles carry it afterwards. `policy` is what later imports do
    with this tag: "overwrite" (the data wins: an import may replace or remove it) or
    "ignore" (this tag wins: imports leave it). A text tag holds one value per
    profile, so the new value replaces the old one; a multi-value tag adds the value.
    The tags are written with source "manual".
    """
    actor.require(PROFILES_TAG)
    if policy not in TAG_POLICIES:
        raise ProfileError(f"Unknown policy '{policy}' (choose overwrite or ignore)")
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise ProfileError(f"Tag {tag_id} does not exist")
    value = (value or "").strip()
    if len(value) > 255:
        raise ProfileError("A tag value can have at most 255 characters")
    if tag.kind == "multi" and not value:
        raise ProfileError(f"Choose a value for the multi-value tag '{tag.name}'")
    ids = _selected_ids(session, actor, profile_ids, flt)
    if not ids:
        return 0
    now = utcnow()
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        if tag.kind == "text":
            session.execute(
                sa.delete(ProfileTag).where(col(ProfileTag.tag_id) == tag_id, col(ProfileTag.profile_id).in_(chunk))
            )
        else:
            session.execute(
                sa.delete(ProfileTag).where(
                    col(ProfileTag.tag_id) == tag_id,
                    col(ProfileTag.profile_id).in_(chunk),
                    col(ProfileTag.value) == value,
                )
            )
        session.execute(
            sa.insert(ProfileTag),
            [
                {
                    "profile_id": pid,
                    "tag_id": tag_id,
                    "value": value,
                    "source": "manual",
                    "policy": policy,
                    "import_job_id": None,
                    "created_by": actor.user_id,
                    "created_at": now,
                }
                for pid in chunk
            ],
        )
    details = {"tag": tag.name, "value": value, "policy": policy, "profiles": len(ids), "profile_ids": ids[:100]}
    if flt is not None:
        details["filter"] = flt.to_json()
    record_event(
        session=session, actor=actor, action="profile.tag", object_type="tag", object_id=tag_id, details=details
    )
    if len(ids) == 1:
        record_event(
            session=session,
            actor=actor,
            action="profile.tag",
            object_type="profile",
            object_id=ids[0],
            details={"tag": tag.name, "value": value, "policy": policy},
        )
    return len(ids)


def untag_profile(*, session: Session, actor: Actor, profile_id: int, tag_id: int, value: str | None = None) -> int:
    """Remove a tag (one value of it, or all its values) from one profile; how many went."""
    actor.require(PROFILES_TAG)
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise ProfileError(f"Tag {tag_id} does not exist")
    changeable_profile(session, profile_id)
    where = [col(ProfileTag.tag_id) == tag_id, col(ProfileTag.profile_id) == profile_id]
    if value is not None:
        where.append(col(ProfileTag.value) == value)
    removed = _deleted(session, sa.delete(ProfileTag).where(*where))
    if removed:
        record_event(
            session=session,
            actor=actor,
            action="profile.untag",
            object_type="profile",
            object_id=profile_id,
            details={"tag": tag.name, "value": value},
        )
    return removed


def add_profiles_to_group(
    *,
    session: Session,
    actor: Actor,
    group_id: int,
    state: str = "active",
    profile_ids: Sequence[int] | None = None,
    flt: ProfileFilter | None = None,
) -> int:
    """Add profiles (ids, or all matching `flt`) to a group; returns how many were added
    (members already in it keep their membership)."""
    actor.require(PROFILES_EDIT)
    if state not in MEMBERSHIP_STATES:
        raise ProfileError(f"Unknown membership state '{state}'")
    group = session.get(Group, group_id)
    if group is None:
        raise ProfileError(f"Group {group_id} does not exist")
    ids = _selected_ids(session, actor, profile_ids, flt)
    now = utcnow()
    added = 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        present = set(
            session.execute(
                select(GroupMembership.profile_id).where(
                    GroupMembership.group_id == group_id, col(GroupMembership.profile_id).in_(chunk)
                )
            ).scalars()
        )
        new = [pid for pid in chunk if pid not in present]
        if new:
            session.execute(
                sa.insert(GroupMembership),
                [
                    {
                        "group_id": group_id,
                        "profile_id": pid,
                        "state": state,
                        "invited_at": now if state == "invited" else None,
                        "updated_at": now,
                    }
                    for pid in new
                ],
            )
            added += len(new)
    record_event(
        session=session,
        actor=actor,
        action="group.add_members",
        object_type="group",
        object_id=group_id,
        details={"group": group.name, "added": added, "selected": len(ids), "profile_ids": ids[:100]},
    )
    return added


def remove_profile_from_group(*, session: Session, actor: Actor, group_id: int, profile_id: int) -> bool:
    actor.require(PROFILES_EDIT)
    group = session.get(Group, group_id)
    if group is None:
        raise ProfileError(f"Group {group_id} does not exist")
    changeable_profile(session, profile_id)
    removed = _deleted(
        session,
        sa.delete(GroupMembership).where(
            col(GroupMembership.group_id) == group_id, col(GroupMembership.profile_id) == profile_id
        ),
    )
    if removed:
        record_event(
            session=session,
            actor=actor,
            action="group.remove_member",
            object_type="profile",
            object_id=profile_id,
            details={"group": group.name},
        )
    return bool(removed)
