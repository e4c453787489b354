"""Merging two profiles into one, seeing a merge before it happens, and undoing it.

- `preview_merge`: both profiles' fields side by side, which agree and which differ, and
  the suggested surviving value of each (the survivor's, or the merged one's when the
  survivor has none).
- `merge_profiles`: everything of the merged profile moves to the survivor (identities,
  tags, segments, groups, consent, linked objects and the value sources of moved fields;
  its audit history stays readable under both ids); the values chosen for differing fields
  are set on the survivor; the merged profile goes to the trash as "merged into <id>",
  hidden from lists and not restorable there. A `ProfileMerge` record keeps snapshots
  (services/merge_snapshot.py) of both before and of the survivor after.
- `unmerge`: the merged profile comes back exactly as it was before the merge; the
  survivor loses what the merge gave it, except what changed on it since: those later
  changes are kept and listed in `UnmergeResult.later_changes`. Works for merges made by a
  sync rule during an import too (apply_import records them: merge_snapshot.record_import_merges).

All need permission profiles.merge; each writes its audit events in the caller's
transaction and never commits. Writes are set-based: a few statements per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..models import (
    MERGE_MANUAL,
    MERGE_SOURCES,
    STATUS_DELETED,
    AuditEvent,
    FieldDefinition,
    Profile,
    ProfileMerge,
    table_of,
    utcnow,
    with_folded_name,
)
from ..models.merge import MERGED_REASON_PREFIX
from .audit import record_event
from .merge_snapshot import (
    COLLECTION,
    COLLECTIONS,
    REASON_MAX,
    SYSTEM_COLUMNS,
    field_values,
    from_json,
    move_profile_rows,
    put_rows,
    remove_rows,
    restore_rows,
    retire_merged,
    rows_by_key,
    same_row,
    snapshot_profiles,
)
from .merge_snapshot import (
    empty as _empty,
)
from .merge_snapshot import (
    equal as _equal,
)
from .permissions import AUDIT_VIEW, PROFILES_MERGE, PROFILES_VIEW, Actor
from .profiles import ProfileError, format_value

# what a person sees of a snapshot row in an unmerge report
_ROW_TEXT = {
    "identities": lambda r: f"{r.get('kind')} {'(encrypted)' if r.get('is_encrypted') else r.get('value')}",
    "tags": lambda r: f"tag #{r.get('tag_id')}" + (f" = {r['value']}" if r.get("value") else ""),
    "segments": lambda r: f"segment #{r.get('segment_id')}",
    "groups": lambda r: f"group #{r.get('group_id')} ({r.get('state')})",
    "consents": lambda r: f"{r.get('channel')} consent {r.get('status')}",
    "linked": lambda r: f"{r.get('object_type')} '{r.get('name')}'",
}


class MergeError(ProfileError):
    """A merge or unmerge that cannot happen; the message is safe to show."""


@dataclass
class FieldComparison:
    """One field of both profiles; values JSON-ready (dates as ISO text), None = empty."""

    key: str
    label: str
    survivor_value: Any
    merged_value: Any
    survivor_text: str
    merged_text: str
    same: bool
    suggested: str  # "survivor" | "merged": whose value survives unless chosen otherwise
    suggested_value: Any


@dataclass
class MergePreview:
    survivor_id: int
    merged_id: int
    survivor_name: str
    merged_name: str
    fields: list[FieldComparison]
    survivor_identities: list[str]  # "email an@example.com" (encrypted kinds: "(encrypted)")
    merged_identities: list[str]
    survivor_counts: dict[str, int]  # collection name -> rows (tags, segments, groups, ...)
    merged_counts: dict[str, int]

    @property
    def differing(self) -> list[FieldComparison]:
        return [f for f in self.fields if not f.same]


@dataclass
class MergeResult:
    merge_id: int
    survivor_id: int
    merged_id: int
    changes: dict[str, list[Any]]  # {field key: [survivor's before, after]}
    moved: dict[str, int]  # collection name -> rows that moved to the survivor


@dataclass
class LaterChange:
    """Something that changed on the survivor after the merge; the unmerge kept it."""

    what: str  # "field" or a collection name (identities, tags, ...)
    key: str
    text: str  # for a person: "City: Hà Nội at the merge, now Huế"
    at_merge: Any = None
    now: Any = None


@dataclass
class UnmergeResult:
    merge_id: int
    survivor_id: int
    merged_id: int
    restored_fields: list[str]  # survivor fields set back to their value before the merge
    later_changes: list[LaterChange] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)  # for a person: what could not come back


@dataclass
class MergeInfo:
    """A merge as User 360 and the audit log show it."""

    merge_id: int
    survivor_id: int
    merged_id: int
    merged_name: str
    merged_at: datetime
    merged_by: str  # e-mail, or "system"
    reason: str
    source: str
    undone_at: datetime | None


# ---------------------------------------------------------------- helpers


def _name(snapshot: dict[str, Any], profile_id: int) -> str:
    return snapshot["profile"].get("full_name") or f"Profile {profile_id}"


def _lock(session: Session, ids: Sequence[int]) -> None:
    """Hold both rows for the transaction (PostgreSQL; SQLite has one writer anyway)."""
    session.execute(sa.select(col(Profile.id)).where(col(Profile.id).in_(list(ids))).with_for_update())


def _live_pair(session: Session, survivor_id: int, merged_id: int, *, lock: bool) -> dict[int, dict[str, Any]]:
    """Snapshots of two profiles that may be merged (MergeError otherwise)."""
    if survivor_id == merged_id:
        raise MergeError("A profile cannot be merged with itself: choose two different profiles")
    if lock:
        _lock(session, (survivor_id, merged_id))
    snaps = snapshot_profiles(session, (survivor_id, merged_id))
    for pid in (survivor_id, merged_id):
        if pid not in snaps or snaps[pid]["profile"].get("status") == STATUS_DELETED:
            raise MergeError(f"Profile {pid} does not exist (or is in the trash)")
    return snaps


def _labels(session: Session) -> dict[str, str]:
    return dict(
        session.execute(
            select(FieldDefinition.key, FieldDefinition.label).order_by(
                col(FieldDefinition.position), col(FieldDefinition.key)
            )
        ).all()
    )


def _field_keys(labels: dict[str, str], *value_maps: dict[str, Any]) -> list[str]:
    keys = list(labels)
    for values in value_maps:
        keys += [k for k in values if k not in keys]
    return keys


def _write_fields(
    session: Session, profile_id: int, current: dict[str, Any], writes: dict[str, Any], now: datetime
) -> None:
    """Set field values (JSON-ready) on a profile: system columns and custom attributes."""
    profiles = table_of(Profile)
    system = from_json(profiles, {k: v for k, v in writes.items() if k in SYSTEM_COLUMNS})
    attributes = dict(current["profile"].get("attributes") or {})
    for key, value in writes.items():
        if key in SYSTEM_COLUMNS:
            continue
        if _empty(value):
            attributes.pop(key, None)
        else:
            attributes[key] = value
    session.execute(
        sa.update(Profile)
        .where(col(Profile.id) == profile_id)
        .values(**with_folded_name({**system, "attributes": attributes}), updated_at=now)
    )


def _display(key: str, value: Any) -> str:
    """A snapshot value as a person reads it (dates and times typed again first)."""
    if key in SYSTEM_COLUMNS:
        value = from_json(table_of(Profile), {key: value}).get(key, value)
    return format_value(value)


def _moved_counts(before_s: dict, before_m: dict, after_s: dict) -> dict[str, int]:
    moved: dict[str, int] = {}
    for collection in COLLECTIONS:
        if collection.name == "provenance":
            continue
        had, now = rows_by_key(collection, before_s), rows_by_key(collection, after_s)
        moved[collection.name] = sum(1 for k in rows_by_key(collection, before_m) if k in now and k not in had)
    return moved


# ---------------------------------------------------------------- preview


def preview_merge(*, session: Session, actor: Actor, survivor_id: int, merged_id: int) -> MergePreview:
    """Both profiles side by side (reads only; raises MergeError for a bad pair)."""
    actor.require(PROFILES_MERGE)
    snaps = _live_pair(session, survivor_id, merged_id, lock=False)
    s, m = snaps[survivor_id], snaps[merged_id]
    labels = _labels(session)
    s_vals, m_vals = field_values(s), field_values(m)
    fields = []
    for key in _field_keys(labels, s_vals, m_vals):
        sv, mv = s_vals.get(key), m_vals.get(key)
        if _empty(sv) and _empty(mv):
            continue
        take_merged = _empty(sv)
        fields.append(
            FieldComparison(
                key=key,
                label=labels.get(key, key),
                survivor_value=sv,
                merged_value=mv,
                survivor_text=_display(key, sv),
                merged_text=_display(key, mv),
                same=_equal(sv, mv),
                suggested="merged" if take_merged else "survivor",
                suggested_value=mv if take_merged else sv,
            )
        )

    def identities(snap: dict) -> list[str]:
        return [_ROW_TEXT["identities"](r) for r in snap["identities"]]

    def counts(snap: dict) -> dict[str, int]:
        return {c.name: len(snap[c.name]) for c in COLLECTIONS if c.name not in ("identities", "provenance")}

    return MergePreview(
        survivor_id=survivor_id,
        merged_id=merged_id,
        survivor_name=_name(s, survivor_id),
        merged_name=_name(m, merged_id),
        fields=fields,
        survivor_identities=identities(s),
        merged_identities=identities(m),
        survivor_counts=counts(s),
        merged_counts=counts(m),
    )


# ---------------------------------------------------------------- merge


def _chosen_writes(
    labels: dict[str, str], s_vals: dict[str, Any], m_vals: dict[str, Any], chosen: dict[str, object]
) -> dict[str, Any]:
    """{field key: new value} of the survivor's fields the merge changes.

    A chosen value must be one of the two profiles' values (None = empty); a field not
    chosen keeps the suggestion: the survivor's value, or the merged one's if it has none.
    """
    keys = _field_keys(labels, s_vals, m_vals)
    problems = []
    for key, value in chosen.items():
        if key not in keys:
            problems.append(f"'{key}' is not a field of these profiles")
        elif not (_equal(value, s_vals.get(key)) or _equal(value, m_vals.get(key))):
            problems.append(f"{labels.get(key, key)}: '{_display(key, value)}' is neither profile's value")
    if problems:
        raise MergeError("Cannot merge: " + "; ".join(problems))
    writes: dict[str, Any] = {}
    for key in keys:
        sv, mv = s_vals.get(key), m_vals.get(key)
        new = chosen[key] if key in chosen else (mv if _empty(sv) else sv)
        if not _equal(new, sv):
            writes[key] = None if _empty(new) else new
    return writes


def merge_profiles(
    *,
    session: Session,
    actor: Actor,
    survivor_id: int,
    merged_id: int,
    chosen_values: dict[str, object] | None = None,
    reason: str,
    source: str = MERGE_MANUAL,
) -> MergeResult:
    """Merge `merged_id` into `survivor_id` (see the module docstring); audited.

    `chosen_values`: {field key: value} for fields whose surviving value is chosen, each
    one of the two profiles' values as `preview_merge` shows them. `reason` (required)
    is shown on User 360 ("merged from #id on date by whom, because …"). `source`:
    manual (default) or duplicate-review. Raises MergeError, nothing written.
    """
    actor.require(PROFILES_MERGE)
    reason = (reason or "").strip()
    if not reason:
        raise MergeError("Say why these are the same person (the reason is kept with the merge)")
    if len(reason) > REASON_MAX:
        raise MergeError(f"The reason can have at most {REASON_MAX} characters")
    if source not in MERGE_SOURCES:
        raise MergeError(f"Unknown merge source '{source}'")
    snaps = _live_pair(session, survivor_id, merged_id, lock=True)
    before_s, before_m = snaps[survivor_id], snaps[merged_id]
    labels = _labels(session)
    s_vals, m_vals = field_values(before_s), field_values(before_m)
    writes = _chosen_writes(labels, s_vals, m_vals, dict(chosen_values or {}))
    now = utcnow()

    move_profile_rows(session, [(survivor_id, merged_id)])
    if writes:
        _write_fields(session, survivor_id, before_s, writes, now)
        # the value's source: the merged profile's, when its value was taken
        provenance = COLLECTION["provenance"]
        m_prov = rows_by_key(provenance, before_m)
        remove_rows(session, provenance, survivor_id, [(k,) for k in writes])
        put_rows(
            session,
            provenance,
            survivor_id,
            [
                m_prov[(k,)]
                if (k,) in m_prov and _equal(v, m_vals.get(k))
                else {
                    "field_key": k,
                    "source_type": "manual",
                    "source_name": f"merge of profile {merged_id}",
                    "import_job_id": None,
                    "set_by": actor.user_id,
                    "set_at": now.isoformat(),
                    "locked": False,
                }
                for k, v in writes.items()
            ],
        )
    else:
        session.execute(sa.update(Profile).where(col(Profile.id) == survivor_id).values(updated_at=now))
    retire_merged(session, [(survivor_id, merged_id)], by=actor.user_id, now=now)
    after_s = snapshot_profiles(session, [survivor_id])[survivor_id]

    record = ProfileMerge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        source=source,
        reason=reason,
        merged_by=actor.user_id,
        merged_by_email=actor.email,
        merged_at=now,
        survivor_before=before_s,
        merged_before=before_m,
        survivor_after=after_s,
        changed_fields=sorted(writes),
    )
    session.add(record)
    session.flush()
    changes = {k: [s_vals.get(k), v] for k, v in writes.items()}
    moved = _moved_counts(before_s, before_m, after_s)
    details = {
        "survivor": survivor_id,
        "merged": merged_id,
        "merge_id": record.id,
        "source": source,
        "changes": changes,
        "moved": moved,
    }
    record_event(
        session=session,
        actor=actor,
        action="profile.merge",
        object_type="profile",
        object_id=survivor_id,
        reason=reason,
        details=details,
    )
    record_event(
        session=session,
        actor=actor,
        action="profile.merged_into",
        object_type="profile",
        object_id=merged_id,
        reason=reason,
        details=details,
    )
    return MergeResult(
        merge_id=_record_id(record), survivor_id=survivor_id, merged_id=merged_id, changes=changes, moved=moved
    )


# ---------------------------------------------------------------- unmerge


def _check_undoable(record: ProfileMerge | None, merge_id: int, current: dict[int, dict[str, Any]]) -> None:
    if record is None:
        raise MergeError(f"Merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise MergeError(f"This merge was already undone on {record.undone_at:%Y-%m-%d %H:%M}")
    s, m = record.survivor_id, record.merged_id
    if not record.merged_before or not record.survivor_before:
        raise MergeError("The data this merge kept was erased (a profile was removed for good); it cannot be undone")
    for pid in (s, m):
        if pid not in current:
            raise MergeError(f"Profile {pid} was removed for good (purged from the trash); this merge cannot be undone")
    survivor = current[s]["profile"]
    if survivor.get("status") == STATUS_DELETED:
        why = survivor.get("deleted_reason") or ""
        if why.startswith(MERGED_REASON_PREFIX):
            raise MergeError(f"Profile {s} was itself {why} later: undo that merge first")
        raise MergeError(f"Profile {s} is in the trash: restore it first")
    merged = current[m]["profile"]
    if merged.get("status") != STATUS_DELETED or merged.get("deleted_reason") != f"{MERGED_REASON_PREFIX}{s}":
        raise MergeError(f"Profile {m} is no longer merged into profile {s}")


def _later_changes(
    record: ProfileMerge, labels: dict[str, str], after: dict, now_s: dict, skip_fields: set[str]
) -> list[LaterChange]:
    """What changed on the survivor between the merge and now (kept by the unmerge)."""
    changes: list[LaterChange] = []
    a_vals, n_vals = field_values(after), field_values(now_s)
    for key in _field_keys(labels, a_vals, n_vals):
        if key in skip_fields or _equal(a_vals.get(key), n_vals.get(key)):
            continue
        label = labels.get(key, key)
        changes.append(
            LaterChange(
                what="field",
                key=key,
                at_merge=a_vals.get(key),
                now=n_vals.get(key),
                text=f"{label}: '{_display(key, a_vals.get(key))}' at the merge, now "
                f"'{_display(key, n_vals.get(key))}' (kept)",
            )
        )
    for collection in COLLECTIONS:
        if collection.name == "provenance":
            continue
        a_rows, n_rows = rows_by_key(collection, after), rows_by_key(collection, now_s)
        show = _ROW_TEXT[collection.name]
        for found, row in n_rows.items():
            if found not in a_rows:
                changes.append(
                    LaterChange(
                        what=collection.name,
                        key=repr(found),
                        now=row,
                        text=f"{show(row)}: added after the merge (kept)",
                    )
                )
            elif not same_row(collection, a_rows[found], row):
                changes.append(
                    LaterChange(
                        what=collection.name,
                        key=repr(found),
                        at_merge=a_rows[found],
                        now=row,
                        text=f"{show(row)}: changed after the merge (kept)",
                    )
                )
        for found, row in a_rows.items():
            if found not in n_rows:
                changes.append(
                    LaterChange(
                        what=collection.name,
                        key=repr(found),
                        at_merge=row,
                        text=f"{show(row)}: removed after the merge",
                    )
                )
    return changes


def unmerge(*, session: Session, actor: Actor, merge_id: int) -> UnmergeResult:
    """Undo a merge (see the module docstring); audited on both profiles.

    Raises MergeError (nothing written) when the merge is unknown or already undone, a
    profile was purged, or the survivor was since merged into another profile or deleted.
    """
    actor.require(PROFILES_MERGE)
    record = session.get(ProfileMerge, merge_id, with_for_update=True)
    if record is not None:
        _lock(session, (record.survivor_id, record.merged_id))
    current = snapshot_profiles(session, (record.survivor_id, record.merged_id)) if record else {}
    _check_undoable(record, merge_id, current)
    assert record is not None
    s, m = record.survivor_id, record.merged_id
    before_s, before_m, after_s = record.survivor_before, record.merged_before, record.survivor_after
    now_s = current[s]
    now = utcnow()
    labels = _labels(session)
    result = UnmergeResult(merge_id=_record_id(record), survivor_id=s, merged_id=m, restored_fields=[])

    # ---- the survivor's fields the merge set, unless changed since
    b_vals, a_vals, n_vals = field_values(before_s), field_values(after_s), field_values(now_s)
    writes = {k: b_vals.get(k) for k in record.changed_fields if _equal(n_vals.get(k), a_vals.get(k))}
    result.restored_fields = sorted(writes)
    result.later_changes = _later_changes(record, labels, after_s, now_s, set())
    if writes:
        _write_fields(session, s, now_s, writes, now)
        provenance = COLLECTION["provenance"]
        b_prov = rows_by_key(provenance, before_s)
        remove_rows(session, provenance, s, [(k,) for k in writes])
        put_rows(session, provenance, s, [b_prov[(k,)] for k in writes if (k,) in b_prov])
    else:
        session.execute(sa.update(Profile).where(col(Profile.id) == s).values(updated_at=now))

    # ---- keyed rows the merge moved to the survivor, unless changed since
    for name in ("segments", "groups", "consents"):
        collection = COLLECTION[name]
        had, at_merge, has = (rows_by_key(collection, snap) for snap in (before_s, after_s, now_s))
        from_merged = [k for k in rows_by_key(collection, before_m) if k in at_merge and k not in had]
        remove_rows(session, collection, s, [k for k in from_merged if same_row(collection, has.get(k), at_merge[k])])

    # ---- rows with ids (identities, tags, linked objects): the merged profile's go back
    result.not_restored = _restore_id_rows(session, s, m, before_m)

    # ---- the merged profile exactly as it was
    for name in ("segments", "groups", "consents", "provenance"):
        restore_rows(session, COLLECTION[name], m, before_m[name])
    profiles = table_of(Profile)
    # its version counts on (a page showing it before the merge must not save over it) and it changed now
    restored = {k: v for k, v in before_m["profile"].items() if k not in ("version", "updated_at")}
    session.execute(
        sa.update(Profile)
        .where(col(Profile.id) == m)
        .values(**with_folded_name(from_json(profiles, restored)), updated_at=now)
    )

    report = asdict(result)
    record.undone_at, record.undone_by, record.undone_by_email = now, actor.user_id, actor.email
    record.undo_report = {
        "restored_fields": report["restored_fields"],
        "not_restored": report["not_restored"],
        "later_changes": [c["text"] for c in report["later_changes"]],
    }
    session.add(record)
    session.flush()
    details = {"merge_id": record.id, "survivor": s, "merged": m, **record.undo_report}
    record_event(
        session=session, actor=actor, action="profile.unmerge", object_type="profile", object_id=s, details=details
    )
    record_event(
        session=session, actor=actor, action="profile.unmerge", object_type="profile", object_id=m, details=details
    )
    return result


def _restore_id_rows(session: Session, survivor: int, merged: int, before_m: dict[str, Any]) -> list[str]:
    """Give the merged profile back its identities, tags and linked objects (ids kept).

    Its rows are taken off the survivor (by id, and identities also by value: one value
    belongs to one profile). An identity value another profile has taken since stays
    there; the returned messages say which.
    """
    not_restored: list[str] = []
    for name in ("identities", "tags", "linked"):
        collection = COLLECTION[name]
        table = table_of(collection.model)
        rows = list(before_m[name])
        ids = [r["id"] for r in rows]
        pair = table.c.profile_id.in_([survivor, merged])
        session.execute(sa.delete(table).where(table.c.profile_id == merged))
        if ids:
            session.execute(sa.delete(table).where(pair, table.c.id.in_(ids)))
        if name == "identities" and rows:
            keys = [(r["kind"], r["value"]) for r in rows]
            session.execute(sa.delete(table).where(pair, sa.tuple_(table.c.kind, table.c.value).in_(keys)))
            taken = {
                (kind, value): owner
                for kind, value, owner in session.execute(
                    sa.select(table.c.kind, table.c.value, table.c.profile_id).where(
                        sa.tuple_(table.c.kind, table.c.value).in_(keys)
                    )
                ).all()
            }
            for row in rows:
                owner = taken.get((row["kind"], row["value"]))
                if owner is not None:
                    not_restored.append(
                        f"{_ROW_TEXT['identities'](row)} now belongs to profile {owner}; it stays there"
                    )
            rows = [r for r in rows if (r["kind"], r["value"]) not in taken]
        put_rows(session, collection, merged, rows)
    return not_restored


# ---------------------------------------------------------------- reading merges


def _record_id(record: ProfileMerge) -> int:
    assert record.id is not None, "a merge record is flushed before it is used"
    return record.id


def _info(record: ProfileMerge) -> MergeInfo:
    return MergeInfo(
        merge_id=_record_id(record),
        survivor_id=record.survivor_id,
        merged_id=record.merged_id,
        merged_name=_name(record.merged_before, record.merged_id),
        merged_at=record.merged_at,
        merged_by=record.merged_by_email or "system",
        reason=record.reason,
        source=record.source,
        undone_at=record.undone_at,
    )


def merges_into(*, session: Session, actor: Actor, profile_id: int, include_undone: bool = False) -> list[MergeInfo]:
    """The merges whose survivor is this profile, newest first (for User 360)."""
    actor.require(PROFILES_VIEW)
    query = select(ProfileMerge).where(ProfileMerge.survivor_id == profile_id)
    if not include_undone:
        query = query.where(col(ProfileMerge.undone_at).is_(None))
    records = session.exec(query.order_by(col(ProfileMerge.merged_at).desc(), col(ProfileMerge.id).desc())).all()
    return [_info(r) for r in records]


def merged_away(*, session: Session, actor: Actor, profile_id: int) -> MergeInfo | None:
    """The merge that took this profile into another one (not undone), if any."""
    actor.require(PROFILES_VIEW)
    record = session.exec(
        select(ProfileMerge)
        .where(ProfileMerge.merged_id == profile_id, col(ProfileMerge.undone_at).is_(None))
        .order_by(col(ProfileMerge.id).desc())
    ).first()
    return None if record is None else _info(record)


def find_merge(*, session: Session, actor: Actor, survivor_id: int, merged_id: int) -> MergeInfo | None:
    """The latest merge of `merged_id` into `survivor_id` (the audit log's events name both)."""
    actor.require(PROFILES_VIEW)
    record = session.exec(
        select(ProfileMerge)
        .where(ProfileMerge.survivor_id == survivor_id, ProfileMerge.merged_id == merged_id)
        .order_by(col(ProfileMerge.id).desc())
    ).first()
    return None if record is None else _info(record)


def merge_of_event(*, session: Session, actor: Actor, event_id: int) -> MergeInfo | None:
    """The merge a `profile.merge` audit event records (the audit log's Undo merge), or None."""
    actor.require(AUDIT_VIEW)
    event = session.exec(
        select(AuditEvent).where(AuditEvent.id == int(event_id), AuditEvent.action == "profile.merge")
    ).first()
    if event is None:
        return None
    details = event.details or {}
    if details.get("merge_id"):
        record = session.get(ProfileMerge, int(details["merge_id"]))
        return None if record is None else _info(record)
    # an import's merge event names the pair, not the record
    return find_merge(
        session=session,
        actor=actor,
        survivor_id=int(details.get("survivor") or 0),
        merged_id=int(details.get("merged") or 0),
    )
