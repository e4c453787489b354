"""Sorting the profile list by a tag column ("tag:<tag id>"), by the tag's value.

No key is stored: the sort reads the tag value table (`profile_tags`) itself, through
`ix_profile_tags_sort` on (tag_id, value, profile_id) (migration 0014), so every writer of
tag values (imports and their undo, batch tag, User 360, merges and unmerges, the seed,
deleting a tag) keeps the order in step just by writing the table.

A profile's key is the first value of the tag its cell shows: the value added first (the
lowest row id; cells.tags_of lists values in that order). A text tag holds one value per
profile; a multi-value tag sorts by its first value (the column display says so). A tag
given without a value (a cell's "✓") sorts as the empty text, before any value. Values
compare as the database orders text, like the list's other text sorts: by code point on
SQLite, by the database's collation on PostgreSQL (the same for C.UTF-8).

Profiles without the tag come last in both directions and ties are broken by id, as the
identity sorts do. A page is read from two stretches in turn (`tag_sorted_page_ids`): the
profiles with the tag, walked in the index's order, each tested for being its profile's
first value (a probe of its earlier rows in ix_profile_tags_export); then the profiles
without it, in id order (ix_profiles_status_id), each tested by a probe of
uq_profile_tags. The second stretch is read only when the page reaches it, so a page
within the first never looks for profiles without the tag. The list's drive plan (a small
id set, query.py) looks each profile's tag rows up instead and sorts that set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import Profile, ProfileTag, Tag
from .cells import TAG_COLUMN_PREFIX
from .filters import DriveJoin

MULTI_VALUE_KIND = "multi"
MULTI_VALUE_NOTE = "sorts by its first value"  # said in the column display


def tag_id_of(key: str) -> int | None:
    """The tag id of a tag column key ("tag:12" -> 12); None for any other key."""
    if not key.startswith(TAG_COLUMN_PREFIX):
        return None
    number = key[len(TAG_COLUMN_PREFIX) :]
    return int(number) if number.isdigit() and len(number) <= 18 else None


def is_tag_sort(key: str) -> bool:
    return tag_id_of(key) is not None


def can_sort_by_tag(session: Session, key: str) -> bool:
    """Whether the list can sort by this tag column (any existing tag can)."""
    tag_id = tag_id_of(key)
    return tag_id is not None and session.get(Tag, tag_id) is not None


def sort_note(tag: Tag) -> str:
    """What the column display says about sorting by this tag beyond "sorts"."""
    return MULTI_VALUE_NOTE if tag.kind == MULTI_VALUE_KIND else ""


def tag_sorted_page_ids(
    session: Session,
    where: sa.ColumnElement,
    key: str,
    *,
    descending: bool,
    nulls_last: bool,
    offset: int,
    limit: int,
    plain: Callable[[Any], Any] | None = None,
) -> Sequence[int]:
    """The ids of one page of the profiles matching `where`, in the order of tag column
    `key`: rows `offset` to `offset + limit` of (profiles with the tag, by value then id;
    then the others, by id), all in one direction.

    `nulls_last`: False puts the profiles without the tag first (the list reads the tail
    of a listing backwards with it). `plain` wraps columns the drive plan hides from
    SQLite's index choice (filters.PlainColumn); None for the index walk.
    """
    tag_id = tag_id_of(key)
    if tag_id is None:
        raise ValueError(f"'{key}' is not a tag column")
    keyed, unkeyed = _keyed(where, tag_id, descending, plain), _unkeyed(where, tag_id, descending, plain)
    first, second = (keyed, unkeyed) if nulls_last else (unkeyed, keyed)
    ids = list(session.execute(first.offset(offset).limit(limit)).scalars().all())
    if len(ids) == limit:
        return ids
    if ids:  # the first stretch ended on this page: the second starts at its beginning
        skipped = 0
    else:  # the page starts past the first stretch: skip what is left of the offset
        in_first = select(sa.func.count()).select_from(first.limit(offset).subquery())
        skipped = offset - session.execute(in_first).scalar_one()
    ids += session.execute(second.offset(skipped).limit(limit - len(ids))).scalars().all()
    return ids


def _direction(descending: bool) -> Callable[[Any], Any]:
    return (lambda c: c.desc()) if descending else (lambda c: c.asc())


# one pair of aliases for every query: SQLAlchemy adapts an alias's columns on first use,
# which costs milliseconds per new alias (a fresh pair per page was a fifth of its time)
_SORT_TAG = sa.orm.aliased(ProfileTag, name="sort_tag")
_EARLIER_TAG = sa.orm.aliased(ProfileTag, name="earlier_tag")


def _keyed(where: sa.ColumnElement, tag_id: int, descending: bool, plain: Callable[[Any], Any] | None) -> sa.Select:
    """Profiles with the tag, by their first value, then id."""
    direction = _direction(descending)
    tagged, earlier = _SORT_TAG, _EARLIER_TAG
    value, profile_id = (
        cast(sa.ColumnElement[Any], col(tagged.value)),
        cast(sa.ColumnElement[Any], col(tagged.profile_id)),
    )
    # one row per profile: its value added first (a seek in ix_profile_tags_export)
    first_value = ~(
        select(col(earlier.profile_id))
        .where(
            col(earlier.tag_id) == col(tagged.tag_id),
            col(earlier.profile_id) == profile_id,
            col(earlier.id) < col(tagged.id),
        )
        .exists()
    )
    profiles = sa.inspect(Profile).local_table
    if plain is None:  # walk the tag's values in ix_profile_tags_sort, look each profile up
        source: Any = DriveJoin(tagged, profiles, col(Profile.id) == profile_id)
        tag_match = col(tagged.tag_id) == tag_id
        order = (direction(value), direction(profile_id))
        # the filter's tests of the profile id (tag, group, segment probes) on the walked
        # row's profile id, written first: SQLite then runs them per walked row, before the
        # first-value probe and the profile lookup, which only the survivors pay for (a
        # filter matching 2% of the profiles: 4.6 -> 1.7 ms of CPU for a page at 1M)
        return (
            select(profile_id)
            .select_from(source)
            .where(tag_match, _on_walked_id(where, profiles, profile_id), first_value)
            .order_by(*order)
        )
    # the drive plan: from its id set, each profile's tag rows by profile id, then sorted
    source = sa.join(profiles, tagged, col(Profile.id) == profile_id)
    tag_match = plain(col(tagged.tag_id)) == tag_id
    order = (direction(plain(value)), direction(plain(profile_id)))
    return select(profile_id).select_from(source).where(tag_match, first_value, where).order_by(*order)


def _on_walked_id(where: sa.ColumnElement, profiles: Any, walked_id: sa.ColumnElement) -> sa.ColumnElement:
    """`where` with each reference to profiles.id read from `walked_id` (equal by the join)."""

    def swap(element: Any, **_kw: Any) -> Any:
        if isinstance(element, sa.Column) and element.table is profiles and element.name == "id":
            return walked_id
        return None

    return sa.sql.visitors.replacement_traverse(where, {}, swap)


def _unkeyed(where: sa.ColumnElement, tag_id: int, descending: bool, plain: Callable[[Any], Any] | None) -> sa.Select:
    """Profiles without the tag, by id."""
    pid = cast(sa.ColumnElement[Any], col(Profile.id))
    tagged = select(col(ProfileTag.profile_id)).where(ProfileTag.tag_id == tag_id, ProfileTag.profile_id == Profile.id)
    return select(pid).where(where, ~tagged.exists()).order_by(_direction(descending)((plain or (lambda c: c))(pid)))
