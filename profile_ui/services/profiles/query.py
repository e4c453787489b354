"""The profile list: one sorted page, the exact count and the count estimate.

The list answers from indexes. Every filter is a WHERE clause (filters.py: the same clause
export and bulk actions use); the list adds a plan choice SQLite cannot make alone:

- scan: walk the index of the sort column and test each row (tag, group, segment and
  text conditions are EXISTS / IN probes). Cost ~ (offset + page) / selectivity, so it
  is right when the conditions match many profiles.
- drive: start from the ids of the most selective membership condition (a tag, group,
  segment, a selection, or what the query box matched), look those rows up and sort
  them. Cost ~ size of that id set, so it is right when the set is small.

The sets are sized with capped counts (a few milliseconds each) and the cheaper plan
is taken. A query box sorted by name reads the folded name's stretch of its index instead
(`_name_sorted_text_query`). PostgreSQL plans from its own statistics, so there
the plain scan form is sent as is, with one exception: the query box, whose identity
and name tests OR-ed together no index can serve, is tested against its id list when
that is short (on both backends), and a count is sized as on SQLite to choose between
exact and sampled.

Counts: `count_profiles` is exact and may take longer than a page on very large
matches (hundreds of thousands of profiles that combine several conditions);
`estimate_count` answers at page speed, exactly when that is cheap and otherwise from
a sample of id ranges, marked `exact=False` so the page can show "about N" first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import (
    FieldDefinition,
    Profile,
)
from ..attribute_sort import attribute_sort_columns, can_sort_by
from ..identity_sort import can_sort_by_identity, identity_sorted_ids, is_identity_sort
from ..permissions import PROFILES_VIEW, Actor
from .errors import ProfileError
from .filters import (
    Condition,
    DriveJoin,
    PlainColumn,
    ProfileFilter,
    check_filter,
    folded_prefix,
    split_conditions,
    text_ids,
    where_clause,
)
from .tag_sort import can_sort_by_tag, is_tag_sort, tag_sorted_page_ids

# sort key -> columns in order (the id breaks ties, so pages never overlap). Each has an
# index led by status (see the report of issue 4 for the ones the migration adds).
SORTS: dict[str, tuple[sa.ColumnElement, ...]] = {
    "created_at": (Profile.created_at, Profile.id),
    "updated_at": (Profile.updated_at, Profile.id),
    # by name as people read it: folded first ("Đặng" beside "Dang", not after "Zhou"),
    # then the name itself; the query box's prefix ranges read the same index
    "full_name": (Profile.name_folded, Profile.full_name, Profile.id),
    "gender": (Profile.gender, Profile.id),
    "birthday": (Profile.birthday, Profile.id),
    "city": (Profile.city, Profile.id),
    # within a level, newest first: the order of ix_profiles_status_level
    "member_level": (Profile.member_level, Profile.created_at, Profile.id),
    "registered_at": (Profile.registered_at, Profile.id),
}
SORTABLE_COLUMNS = tuple(SORTS)
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50

# Plan choice on SQLite (costs relative to one index step; measured on the 1M benchmark).
# A set this small is always worth driving a page from:
_ALWAYS_DRIVE = 2_000
# a drive looks a whole row up per id; a scan step is one index entry plus probes
_DRIVE_COST_PER_ID = 2.0
# the query box tested per row reads the row's name (a row lookup); tested against its id
# list it costs one insert per matching id into that list, about a tenth of a lookup
_NAME_READ_PER_LIST_ID = 10.0
# counts: a set (or the rows the status/level/date conditions allow) up to this size is
# counted exactly at page speed; larger counts are sampled first by estimate_count
_ROW_SCAN_MAX = 20_000
_SET_SIZE_CAP = 30_000
_SAMPLE_WINDOWS = 16
_SAMPLE_IDS = 16_000
# ids whose status decides how the unfiltered list is counted (_status_count)
_STATUS_PROBES = 256


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _set_size(session: Session, condition: Condition, cap: int) -> int:
    """How many ids the set holds, counted up to `cap` + 1 (cheap: stops early)."""
    if condition.known_size is not None:
        return condition.known_size
    capped = condition.ids.limit(cap + 1).subquery()
    return session.execute(select(sa.func.count()).select_from(capped)).scalar_one()


def _id_span(session: Session) -> tuple[int, int]:
    # two scalar subqueries: SQLite answers a lone min() or max() from the end of the
    # index, but "min(id), max(id)" together by reading all of it
    low, high = session.execute(
        select(select(sa.func.min(Profile.id)).scalar_subquery(), select(sa.func.max(Profile.id)).scalar_subquery())
    ).one()
    return (low or 0, high or 0)


@dataclass
class _Driver:
    """The smallest membership set of a filter: its position in the sets and its size,
    counted up to `cap` + 1 (so `size > cap` means "bigger than cap")."""

    index: int
    size: int
    cap: int


def _smallest_set(
    session: Session,
    flt: ProfileFilter,
    cap: int,
    sets: list[Condition] | None = None,
    *,
    any_backend: bool = False,
) -> _Driver | None:
    """None without membership sets, or on PostgreSQL (its planner sizes sets itself for
    a page) unless `any_backend` (a count: whether it can be exact at page speed).

    Each set is counted only up to `cap` + 1 ids, so sizing costs at most a few index
    ranges of `cap` entries however large the sets are.
    """
    if not any_backend and not _is_sqlite(session):
        return None
    if sets is None:  # `sets`: split_conditions(flt)'s, when the caller has them already
        _, sets = split_conditions(flt)
    if not sets:
        return None
    sizes = [_set_size(session, s, cap) for s in sets]
    smallest = min(range(len(sets)), key=sizes.__getitem__)
    return _Driver(smallest, sizes[smallest], cap)


def _text_list_is_short(
    session: Session, flt: ProfileFilter, rows_needed: int, sets: list[Condition] | None = None
) -> bool:
    """Whether a scan should test rows against the query box's id list (built once, cost
    ~ its length) rather than read each walked row's name (cost ~ the rows walked:
    rows_needed x population / matches)."""
    if not flt.text.strip():
        return False
    if sets is None:
        _, sets = split_conditions(flt)
    low, high = _id_span(session)
    cap = int(math.sqrt(rows_needed * max(high - low + 1, 1) * _NAME_READ_PER_LIST_ID))
    return _set_size(session, sets[0], cap) <= cap


def _page_drive_cap(session: Session, rows_needed: int) -> int:
    """The largest set worth driving a page from: driving costs its size, a scan about
    rows_needed x population / size, so drive while size^2 <= rows_needed x population."""
    low, high = _id_span(session)
    population = max(high - low + 1, 1)
    return max(_ALWAYS_DRIVE, int(math.sqrt(rows_needed * population / _DRIVE_COST_PER_ID)))


def _drive_for_page(session: Session, driver: _Driver | None, rows_needed: int) -> bool:
    """Drive from the smallest set when looking its ids up is cheaper than scanning
    (the driver was sized with the cap `_page_drive_cap` gives)."""
    return driver is not None and driver.size <= driver.cap


def _order_by(sort: str, descending: bool, plain: bool) -> list[sa.ColumnElement]:
    columns = SORTS[sort] if sort in SORTS else attribute_sort_columns(sort)
    if plain:
        columns = tuple(PlainColumn(c) for c in columns)
    return [c.desc() if descending else c.asc() for c in columns]


# ---------------------------------------------------------------- list and count


@dataclass
class ProfilePage:
    """One page of the list. `total` is None when the caller asked for no count."""

    rows: list[Profile]
    total: int | None
    page: int
    page_size: int
    sort: str = "created_at"
    descending: bool = True

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.page_size))


def list_profiles(
    *,
    session: Session,
    actor: Actor,
    flt: ProfileFilter,
    sort: str = "created_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    with_total: bool = True,
    known_total: int | None = None,
) -> ProfilePage:
    """One sorted page of the profiles matching `flt` (and, by default, the exact total).

    `sort` is one of SORTABLE_COLUMNS, a custom attribute's key (attribute_sort.py) or
    "identity:email" / "identity:phone" (identity_sort.py: profiles without one last) or a
    tag column "tag:<id>" (tag_sort.py: by its first value, profiles without the tag last);
    ties are broken by id, so pages never overlap.
    `page_size` is one of PAGE_SIZES (anything else becomes 50). When only the page
    changed, pass `with_total=False, known_total=<the total shown>`: the count is not
    run again, and pages in the second half are read from the other end (as fast as
    the first pages). Raises ProfileError for an unknown sort or status.

    For the list page: call this with `with_total=False`, show `estimate_count` (marked
    "about" when not exact), then replace it with `count_profiles` from a background event.
    """
    actor.require(PROFILES_VIEW)
    if is_identity_sort(sort):
        if not can_sort_by_identity(sort):
            raise ProfileError(f"Cannot sort by '{sort}' (stored encrypted)")
    elif is_tag_sort(sort):
        if not can_sort_by_tag(session, sort):
            raise ProfileError(f"Cannot sort by '{sort}' (no such tag)")
    elif sort not in SORTS:
        definition = session.get(FieldDefinition, sort)
        if definition is None or not can_sort_by(definition):
            raise ProfileError(f"Cannot sort by '{sort}'")
    check_filter(flt)
    page_size = page_size if page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    page = max(int(page), 1)
    total = count_profiles(session=session, actor=actor, flt=flt) if with_total else known_total
    offset, limit, reverse = (page - 1) * page_size, page_size, False
    if total is not None:
        if offset >= total:  # past the end (rows were removed meanwhile): show the last page
            page = max(1, math.ceil(total / page_size))
            offset = (page - 1) * page_size
        if offset > total // 2:  # read the tail backwards
            reverse = True
            limit = min(page_size, total - offset)
            offset = max(total - offset - limit, 0)
    rows = (
        _page_rows(session, flt, sort, descending != reverse, offset, limit, nulls_last=not reverse)
        if limit > 0
        else []
    )
    if reverse:
        rows.reverse()
    return ProfilePage(rows=rows, total=total, page=page, page_size=page_size, sort=sort, descending=descending)


def _page_rows(
    session: Session,
    flt: ProfileFilter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    *,
    nulls_last: bool = True,
) -> list[Profile]:
    sqlite = _is_sqlite(session)
    rows_needed = offset + limit
    if sqlite and sort == "full_name" and flt.text.strip() and not flt.text_fields:
        query = _name_sorted_text_query(flt, descending, rows_needed)
    else:
        # the conditions built once for the plan choice (with a query box each build
        # normalizes and assembles its lookups), then once more in the chosen form
        driver, sets = None, split_conditions(flt)[1]
        if sqlite and sets:
            driver = _smallest_set(session, flt, _page_drive_cap(session, rows_needed), sets)
        if _drive_for_page(session, driver, rows_needed):
            where, plain = where_clause(flt, drive=driver.index), True
        else:
            short = _text_list_is_short(session, flt, rows_needed, sets)
            where, plain = where_clause(flt, text_by_ids=short), False
        if is_tag_sort(sort):  # tag_sort.py: a page from two stretches, read in turn
            return _rows_of(
                session,
                tag_sorted_page_ids(
                    session,
                    where,
                    sort,
                    descending=descending,
                    nulls_last=nulls_last,
                    offset=offset,
                    limit=limit,
                    plain=PlainColumn if plain else None,
                ),
            )
        if is_identity_sort(sort):  # identity_sort.py: keyed rows, then the others
            query = identity_sorted_ids(
                where,
                sort,
                descending=descending,
                nulls_last=nulls_last,
                rows_needed=rows_needed,
                plain=PlainColumn if plain else None,
            )
        else:
            query = select(Profile.id).where(where).order_by(*_order_by(sort, descending, plain=plain))
    # ids first (from the index alone where it covers the filter), then those rows
    return _rows_of(session, session.execute(query.offset(offset).limit(limit)).scalars().all())


def _rows_of(session: Session, ids: Sequence[int]) -> list[Profile]:
    """The profiles of a page's ids, in that order."""
    if not ids:
        return []
    by_id = {p.id: p for p in session.exec(select(Profile).where(Profile.id.in_(ids))).all()}
    return [by_id[i] for i in ids if i in by_id]


def _name_sorted_text_query(flt: ProfileFilter, descending: bool, rows_needed: int) -> sa.Select:
    """Sorted by name with a query box (SQLite): the matches are the identity matches
    plus the folded name's stretch of (status, name_folded, full_name), which is already
    in the sort's order. The first `rows_needed` of each part, merged, hold the page, so
    no part walks the name index from "A" to the typed name."""
    _, sets = split_conditions(flt)
    row, _ = split_conditions(flt, plain=True)
    others = [c.scan for c in sets[1:]]  # the query box is always the first set
    text = " ".join(flt.text.split())
    identity_ids = text_ids(text).subquery()
    # identity matches are a handful: looked up by id (plain columns keep SQLite from
    # walking the name index instead), then sorted
    parts = [
        select(Profile.id, Profile.name_folded, Profile.full_name)
        .where(Profile.id.in_(select(identity_ids.c.profile_id)), *row, *others)
        .order_by(*_order_by("full_name", descending, plain=True))
        .limit(rows_needed)
        .subquery()
    ]
    parts.append(
        select(Profile.id, Profile.name_folded, Profile.full_name)
        .where(Profile.status == flt.status, folded_prefix(Profile.name_folded, text), *row, *others)
        .order_by(*_order_by("full_name", descending, plain=False))
        .limit(rows_needed)
        .subquery()
    )
    merged = sa.union(*(select(part.c.id, part.c.name_folded, part.c.full_name) for part in parts)).subquery()
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    return select(merged.c.id).order_by(
        direction(merged.c.name_folded), direction(merged.c.full_name), direction(merged.c.id)
    )


def count_profiles(*, session: Session, actor: Actor, flt: ProfileFilter) -> int:
    """The exact number of profiles matching `flt`.

    Fast (an index range or a set of at most ~100,000 ids) for most filters; filters that
    only combine very large sets (say 750,000 profiles with a tag) read every one of
    them, which takes a second or more on SQLite: show `estimate_count` first.
    """
    actor.require(PROFILES_VIEW)
    check_filter(flt)
    return _exact_count(session, flt, _count_plan(session, flt))


def _row_size(session: Session, flt: ProfileFilter, cap: int) -> int:
    """How many profiles the row's own conditions (status, level, dates) allow, up to cap + 1."""
    row, _ = split_conditions(flt)
    capped = select(Profile.id).where(*row).limit(cap + 1).subquery()
    return session.execute(select(sa.func.count()).select_from(capped)).scalar_one()


@dataclass
class _CountPlan:
    driver: _Driver | None  # None: test each row the row conditions allow
    cheap: bool  # answers at page speed


def _count_plan(session: Session, flt: ProfileFilter) -> _CountPlan:
    """Drive from the smallest set, unless the row conditions let fewer profiles through;
    `cheap` when either side is small enough to answer at page speed."""
    driver = _smallest_set(session, flt, _SET_SIZE_CAP, any_backend=True)
    if driver is None:  # no sets: an index range count
        return _CountPlan(None, True)
    if driver.size <= _SET_SIZE_CAP:
        return _CountPlan(driver, True)
    rows = _row_size(session, flt, _ROW_SCAN_MAX)
    if rows <= _ROW_SCAN_MAX:  # few profiles pass the row conditions: probe those
        return _CountPlan(None, True)
    return _CountPlan(driver, False)  # every set is large: walk the smallest in id order


def _exact_count(session: Session, flt: ProfileFilter, plan: _CountPlan) -> int:
    if not _is_sqlite(session):
        # PostgreSQL plans its own counts (the plan only said whether this one is cheap),
        # but a query box test OR-ed across identities and names is not indexable: it
        # walks every profile. A short id list of it (index ranges) is much cheaper; a long
        # one (a common family name) costs more than the walk (measured at 1,000,000)
        text_ids = split_conditions(flt)[1][0] if flt.text.strip() else None  # the query box's set comes first
        few = text_ids is not None and _set_size(session, text_ids, _SET_SIZE_CAP) <= _SET_SIZE_CAP
        where = where_clause(flt, text_by_ids=few)
        return session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    if plan.driver is None:
        row, sets = split_conditions(flt)
        if not sets and len(row) == 1:  # the status alone: the unfiltered list
            return _status_count(session, flt.status)
        where = where_clause(flt)
        return session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    row, sets = split_conditions(flt, plain=True)
    driver = sets[plan.driver.index]
    others = [c.scan for i, c in enumerate(sets) if i != plan.driver.index]
    if driver.ids is None:  # a selection of ids: already the best access path
        where = where_clause(flt, drive=plan.driver.index)
        return session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    ids = driver.ids.subquery("driving_ids")
    id_column = next(iter(ids.c))
    if not driver.unique_ids:
        ids = select(id_column).distinct().subquery("driving_ids_distinct")
        id_column = next(iter(ids.c))
    if len(row) == 1:
        # the status is the row's only condition, all a row must show: each id is a probe of the small covering index
        # ix_profiles_status_id instead of a read of its wide table row (half the time at 1M)
        row = [col(Profile.status) == flt.status]
    joined = DriveJoin(ids, Profile.__table__, Profile.id == id_column)
    return session.execute(select(sa.func.count()).select_from(joined).where(*row, *others)).scalar_one()


def _status_count(session: Session, status: str) -> int:
    """The number of profiles with `status` (SQLite), exactly.

    SQLite counts a whole table from its index pages' cell counts (~8 ms at 1,000,000
    profiles) but a status's stretch of an index entry by entry (~40 ms for 940,000), so
    a status most profiles have (the active ones, normally) is counted as all profiles
    minus the other statuses (status is NOT NULL), in one statement so that the three
    counts read the same snapshot. Which way is cheaper is judged from the statuses of
    _STATUS_PROBES ids spread over the id range; either way the count is exact.
    """
    profiles = Profile.__table__

    def counted(*where: sa.ColumnElement) -> sa.ScalarSelect[int]:
        return select(sa.func.count()).select_from(profiles).where(*where).scalar_subquery()

    status_column = col(Profile.status)
    if not _held_by_most(session, status):  # its own stretch is the shorter read
        return session.execute(select(counted(status_column == status))).scalar_one()
    return session.execute(
        select(counted() - counted(status_column < status) - counted(status_column > status))
    ).scalar_one()


def _held_by_most(session: Session, status: str) -> bool:
    """Whether most of _STATUS_PROBES ids spread over the id range have `status`."""
    low, high = _id_span(session)
    step = max((high - low) // _STATUS_PROBES, 1)
    probes = list(range(low, high + 1, step))
    mine, seen = session.execute(
        select(sa.func.sum(sa.case((col(Profile.status) == status, 1), else_=0)), sa.func.count()).where(
            col(Profile.id).in_(probes)
        )
    ).one()
    return bool(seen) and (mine or 0) * 2 > seen


@dataclass(frozen=True)
class CountEstimate:
    """A count for the list header: exact, or (exact=False) estimated from a sample.

    Show an estimate as "about {value:,}" and replace it with `count_profiles` when
    that returns; `low`/`high` bound the estimate (about 95% confidence).
    """

    value: int
    exact: bool
    low: int | None = None
    high: int | None = None


def estimate_count(*, session: Session, actor: Actor, flt: ProfileFilter) -> CountEstimate:
    """The count at page speed: exact when that is cheap (no tag/group/segment/query-box
    condition; one matching at most ~30,000 profiles; few profiles passing the status,
    level and date conditions), otherwise estimated from evenly spread id
    ranges (about 32,000 ids) and marked `exact=False`. A sample is biased only when the
    matching profiles cluster by creation order far more than list filters normally do."""
    actor.require(PROFILES_VIEW)
    check_filter(flt)
    plan = _count_plan(session, flt)
    if plan.cheap:
        return CountEstimate(_exact_count(session, flt, plan), True)
    return _sampled_count(session, flt)


def _sampled_count(session: Session, flt: ProfileFilter) -> CountEstimate:
    low, high = _id_span(session)
    span = high - low + 1
    if span <= _SAMPLE_IDS * 2:
        return CountEstimate(_exact_count(session, flt, _CountPlan(None, True)), True)
    width = _SAMPLE_IDS // _SAMPLE_WINDOWS
    step = span / _SAMPLE_WINDOWS
    # every row column hidden from the index choice: the id range leads
    row, sets = split_conditions(flt, plain=True)
    where = sa.and_(*row, *(s.scan for s in sets))
    parts = []
    for i in range(_SAMPLE_WINDOWS):
        start = low + int(i * step + (step - width) / 2)
        parts.append(
            select(sa.func.count().label("n"))
            .select_from(Profile)
            .where(Profile.id.between(start, start + width - 1), where)
        )
    hits = session.execute(select(sa.func.sum(sa.union_all(*parts).subquery().c.n))).scalar_one() or 0
    sampled = width * _SAMPLE_WINDOWS
    share = float(hits) / sampled  # PostgreSQL sums to a Decimal
    margin = 1.96 * math.sqrt(max(share * (1 - share), 1 / sampled) / sampled)
    return CountEstimate(
        value=round(share * span),
        exact=False,
        low=max(0, round((share - margin) * span)),
        high=round(min(1.0, share + margin) * span),
    )
