"""Snapshots of profiles for merges, and the set-based moves and restores built on them.

A snapshot is one profile's data as JSON-ready values (dates and times as ISO text):

    {"profile": {column: value, ... "attributes": {...}},       # every column but id
     "identities": [row, ...], "tags": [...], "segments": [...], "groups": [...],
     "consents": [...], "linked": [...], "provenance": [...]}   # rows without profile_id

`snapshot_profiles` reads any number of profiles with one query per table. Rows are
compared by their collection's natural key (COLLECTIONS): an identity by kind and value,
a tag by tag and value, a segment, group or consent channel by its id or name, a linked
object by its id, provenance by field key. Nothing here checks permissions or audits:
services/merging.py does, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from ..models import (
    MERGE_IMPORT,
    STATUS_DELETED,
    AttributeProvenance,
    Consent,
    GroupMembership,
    Identity,
    LinkedObject,
    Profile,
    ProfileMerge,
    ProfileTag,
    SegmentMember,
    table_of,
)
from ..models.base import UTCDateTime
from ..models.merge import MERGED_REASON_PREFIX
from .bootstrap import SYSTEM_FIELDS

SYSTEM_COLUMNS: tuple[str, ...] = tuple(key for key, *_ in SYSTEM_FIELDS)
REASON_MAX = 1000  # ProfileMerge.reason


@dataclass(frozen=True)
class Collection:
    """A table of rows that belong to a profile, and what makes two of its rows the same."""

    name: str  # key in a snapshot
    model: type[SQLModel]
    key: tuple[str, ...]
    label: str  # for a person: "tag", "identity", ...


COLLECTIONS: tuple[Collection, ...] = (
    Collection("identities", Identity, ("kind", "value"), "identity"),
    Collection("tags", ProfileTag, ("tag_id", "value"), "tag"),
    Collection("segments", SegmentMember, ("segment_id",), "segment"),
    Collection("groups", GroupMembership, ("group_id",), "group"),
    Collection("consents", Consent, ("channel",), "consent"),
    Collection("linked", LinkedObject, ("id",), "linked object"),
    Collection("provenance", AttributeProvenance, ("field_key",), "value source"),
)
COLLECTION = {c.name: c for c in COLLECTIONS}
# columns a later import touches without changing what the row says (ignored in comparisons)
VOLATILE = {"identities": ("last_seen_at",)}


def _table(model: type[SQLModel]) -> sa.Table:
    return table_of(model)


def to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row_json(row: sa.RowMapping, skip: Sequence[str] = ("profile_id",)) -> dict[str, Any]:
    return {k: to_json(v) for k, v in row.items() if k not in skip}


def from_json(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """A snapshot row back to the column types of `table` (ISO text to dates and times)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        column = table.columns.get(key)
        if column is None:
            continue
        if isinstance(value, str) and isinstance(column.type, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, sa.Date):
            value = date.fromisoformat(value)
        out[key] = value
    return out


def _in_chunks(ids: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def snapshot_profiles(session: Session, profile_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{profile id: snapshot} of the profiles that exist (one query per table)."""
    ids = sorted({int(i) for i in profile_ids})
    out: dict[int, dict[str, Any]] = {}
    profiles = _table(Profile)
    for chunk in _in_chunks(ids):
        for row in session.execute(sa.select(profiles).where(profiles.c.id.in_(chunk))).mappings():
            out[row["id"]] = {"profile": _row_json(row, ("id",)), **{c.name: [] for c in COLLECTIONS}}
    for collection in COLLECTIONS:
        table = _table(collection.model)
        order = [table.c[k] for k in collection.key]
        for chunk in _in_chunks(list(out)):
            for row in session.execute(
                sa.select(table).where(table.c.profile_id.in_(chunk)).order_by(*order)
            ).mappings():
                out[row["profile_id"]][collection.name].append(_row_json(row))
    return out


def field_values(snapshot: dict[str, Any]) -> dict[str, Any]:
    """{field key: value} of a snapshot: the system columns and the custom attributes."""
    profile = snapshot["profile"]
    values = {key: profile.get(key) for key in SYSTEM_COLUMNS}
    values.update(profile.get("attributes") or {})
    return values


def empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def equal(a: Any, b: Any) -> bool:
    """Two JSON-ready field values say the same (every kind of empty is one)."""
    return (empty(a) and empty(b)) or a == b


def row_key(collection: Collection, row: dict[str, Any]) -> tuple:
    return tuple(row.get(k) for k in collection.key)


def rows_by_key(collection: Collection, snapshot: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    return {row_key(collection, row): row for row in snapshot.get(collection.name, [])}


def same_row(collection: Collection, a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    skip = VOLATILE.get(collection.name, ())
    return {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def move_profile_rows(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """Give each survivor everything its loser owns: (survivor, loser) pairs, a handful of
    UPDATEs for all of them (executemany).

    Identities and linked objects always move. A tag value, segment, group or consent
    channel the survivor already has stays on the loser (the survivor's own wins), so an
    unmerge finds it there.
    """
    params = [{"s": survivor, "l": loser} for survivor, loser in pairs]
    if not params:
        return
    statements = [
        "UPDATE identities SET profile_id = :s WHERE profile_id = :l",
        "UPDATE linked_objects SET profile_id = :s WHERE profile_id = :l",
        "UPDATE profile_tags SET profile_id = :s WHERE profile_id = :l AND NOT EXISTS ("
        " SELECT 1 FROM profile_tags AS o WHERE o.profile_id = :s AND o.tag_id = profile_tags.tag_id"
        " AND o.value = profile_tags.value)",
        "UPDATE segment_members SET profile_id = :s WHERE profile_id = :l AND segment_id NOT IN ("
        " SELECT segment_id FROM segment_members WHERE profile_id = :s)",
        "UPDATE group_memberships SET profile_id = :s WHERE profile_id = :l AND group_id NOT IN ("
        " SELECT group_id FROM group_memberships WHERE profile_id = :s)",
        "UPDATE consents SET profile_id = :s WHERE profile_id = :l AND channel NOT IN ("
        " SELECT channel FROM consents WHERE profile_id = :s)",
    ]
    for statement in statements:
        session.execute(sa.text(statement), params)


def retire_merged(session: Session, pairs: Sequence[tuple[int, int]], *, by: int | None, now: datetime) -> None:
    """Put each loser of (survivor, loser) pairs in the trash as "merged into <survivor>":
    out of every list, not restorable there, kept while its merge can be undone."""
    if not pairs:
        return
    profiles = _table(Profile)
    session.execute(
        sa.update(profiles)
        .where(profiles.c.id == sa.bindparam("loser"))
        .values(
            status=STATUS_DELETED, deleted_at=now, deleted_by=by, deleted_reason=sa.bindparam("reason"), updated_at=now
        ),
        [{"loser": loser, "reason": f"{MERGED_REASON_PREFIX}{survivor}"} for survivor, loser in pairs],
    )


def _delete_keys(session: Session, collection: Collection, profile_id: int, keys: Iterable[tuple]) -> None:
    table = _table(collection.model)
    keys = list(keys)
    if not keys:
        return
    if len(collection.key) == 1:
        session.execute(
            sa.delete(table).where(
                table.c.profile_id == profile_id, table.c[collection.key[0]].in_([k[0] for k in keys])
            )
        )
        return
    session.execute(
        sa.delete(table).where(
            table.c.profile_id == profile_id, sa.tuple_(*(table.c[k] for k in collection.key)).in_(keys)
        )
    )


def restore_rows(session: Session, collection: Collection, profile_id: int, rows: list[dict[str, Any]]) -> None:
    """Replace the profile's rows of a collection by snapshot rows (their ids kept)."""
    table = _table(collection.model)
    session.execute(sa.delete(table).where(table.c.profile_id == profile_id))
    if rows:
        session.execute(sa.insert(table), [from_json(table, {**row, "profile_id": profile_id}) for row in rows])


def remove_rows(session: Session, collection: Collection, profile_id: int, keys: Iterable[tuple]) -> None:
    """Delete the profile's rows of a collection with these natural keys."""
    _delete_keys(session, collection, profile_id, keys)


def put_rows(session: Session, collection: Collection, profile_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert snapshot rows for a profile (the caller made room for them)."""
    if rows:
        table = _table(collection.model)
        session.execute(sa.insert(table), [from_json(table, {**row, "profile_id": profile_id}) for row in rows])


def record_import_merges(
    *,
    session: Session,
    actor_id: int | None,
    actor_email: str,
    job_id: int,
    file_name: str,
    merges: Sequence[tuple[int, Sequence[int]]],
    before: dict[int, dict[str, Any]],
    now: datetime,
) -> None:
    """Keep a ProfileMerge per (survivor, loser) a sync rule merged during an import.

    `before`: snapshot_profiles of every survivor and loser, read before the merges
    (apply_import reads it in bulk). Called right after the merges' moves, before the
    import's own updates (those count as later changes to an unmerge). One INSERT.
    """
    if not merges:
        return
    after = snapshot_profiles(session, [s for s, _ in merges])
    rows = []
    for survivor, losers in merges:
        for loser in losers:
            b_s, b_m, a_s = before[survivor], before[loser], after[survivor]
            bs, bm, as_ = field_values(b_s), field_values(b_m), field_values(a_s)
            changed = sorted(k for k in as_ if not equal(as_[k], bs.get(k)) and equal(as_[k], bm.get(k)))
            rows.append(
                {
                    "survivor_id": survivor,
                    "merged_id": loser,
                    "source": MERGE_IMPORT,
                    "reason": f"same identifier in the import of {file_name}"[:REASON_MAX],
                    "import_job_id": job_id,
                    "merged_by": actor_id,
                    "merged_by_email": actor_email,
                    "merged_at": now,
                    "survivor_before": b_s,
                    "merged_before": b_m,
                    "survivor_after": a_s,
                    "changed_fields": changed,
                }
            )
    session.execute(sa.insert(ProfileMerge), rows)


def forget_merges(session: Session, profile_ids: Sequence[int]) -> None:
    """Blank the snapshots (and unmerge reports) of every merge these profiles took part in.

    For profiles removed for good (purge, GDPR erasure): a merge record must not keep
    their data. Such a merge can no longer be undone; the record of who merged what stays.
    """
    ids = sorted({int(i) for i in profile_ids})
    for chunk in _in_chunks(ids):
        session.execute(
            sa.update(ProfileMerge)
            .where(sa.or_(col(ProfileMerge.survivor_id).in_(chunk), col(ProfileMerge.merged_id).in_(chunk)))
            .values(survivor_before={}, merged_before={}, survivor_after={}, changed_fields=[], undo_report=sa.null())
        )


def merged_into(session: Session, profile_id: int) -> list[int]:
    """Ids of the profiles merged into this one and not unmerged (and into those, ...)."""
    found: list[int] = []
    todo = [profile_id]
    while todo:
        rows = (
            session.execute(
                sa.select(col(ProfileMerge.merged_id)).where(
                    col(ProfileMerge.survivor_id).in_(todo), col(ProfileMerge.undone_at).is_(None)
                )
            )
            .scalars()
            .all()
        )
        todo = [i for i in rows if i not in found and i != profile_id]
        found += todo
    return found
