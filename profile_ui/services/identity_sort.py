"""Sorting the profile list by the primary e-mail or the primary phone.

Column keys "identity:email" and "identity:phone" sort by `profiles.email_sort` /
`phone_sort`: the first plain identity of that kind by id (the value a cell shows first),
kept by triggers on `identities` (migration 0013), so no writer of identities knows about
it (but bulk_writer.py, whose SQLite bulk inserts of identities do the triggers' work
set-based). A kind stored encrypted (ENCRYPTED_IDENTITY_KINDS) holds a keyed hash, never sorted by:
its column is not sortable (`can_sort_by_identity`).

Profiles without the identity come last in both directions, ties are broken by id. Each
key has an index on (status, key, id); a page is the union of two stretches of it, the
keyed rows and then the unkeyed ones (`identity_sorted_ids`), each read only as far as
the page needs, so neither direction sorts the whole list.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import col, select

from ..models import IDENTITY_PREFIX, Profile
from .crypto import is_encrypted_kind

IDENTITY_SORT_KEYS: dict[str, Any] = {
    f"{IDENTITY_PREFIX}email": Profile.email_sort,
    f"{IDENTITY_PREFIX}phone": Profile.phone_sort,
}


def is_identity_sort(key: str) -> bool:
    return key in IDENTITY_SORT_KEYS


def can_sort_by_identity(key: str) -> bool:
    """Whether the list can sort by this identity column (a kind with a sort key, not
    stored encrypted)."""
    return key in IDENTITY_SORT_KEYS and not is_encrypted_kind(key[len(IDENTITY_PREFIX) :])


def unsortable_reason(key: str) -> str:
    """Why an identity column with a sort key does not sort ("" when it does or has none)."""
    if key in IDENTITY_SORT_KEYS and not can_sort_by_identity(key):
        return "not sortable: stored encrypted"
    return ""


def identity_sorted_ids(
    where: sa.ColumnElement,
    sort: str,
    *,
    descending: bool,
    nulls_last: bool,
    rows_needed: int,
    plain: Any = None,
) -> sa.Select:
    """Profile ids matching `where`, in the order of identity column `sort`, holding at
    least the first `rows_needed` (the caller adds offset and limit).

    `nulls_last`: profiles without the identity after the others (the list reads the tail
    of a listing backwards with it False). `plain` wraps columns the drive plan hides from
    SQLite's index choice (filters.PlainColumn); None for the index walk.
    """
    key = cast(sa.ColumnElement[Any], col(IDENTITY_SORT_KEYS[sort]))
    pid = cast(sa.ColumnElement[Any], col(Profile.id))
    wrap = plain or (lambda c: c)

    def direction(column: Any) -> Any:
        return column.desc() if descending else column.asc()

    keyed = (
        select(pid.label("id"), key.label("sort_key"))
        .where(where, key.is_not(None))
        .order_by(direction(wrap(key)), direction(wrap(pid)))
        .limit(rows_needed)
        .subquery()
    )
    unkeyed = (
        select(pid.label("id"), key.label("sort_key"))
        .where(where, key.is_(None))
        .order_by(direction(wrap(pid)))
        .limit(rows_needed)
        .subquery()
    )
    merged = sa.union_all(select(keyed.c.id, keyed.c.sort_key), select(unkeyed.c.id, unkeyed.c.sort_key)).subquery()
    missing = sa.case((merged.c.sort_key.is_(None), 1), else_=0)
    return select(merged.c.id).order_by(
        missing.asc() if nulls_last else missing.desc(), direction(merged.c.sort_key), direction(merged.c.id)
    )
