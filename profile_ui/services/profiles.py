"""User 360: listing, counting, reading, deactivating, tagging and grouping profiles.

The list answers from indexes. Every filter is a WHERE clause (`filter_condition`, which
export and bulk actions reuse); the list adds a plan choice SQLite cannot make alone:

- scan: walk the index of the sort column and test each row (tag, group, segment and
  text conditions are EXISTS / IN probes). Cost ~ (offset + page) / selectivity, so it
  is right when the conditions match many profiles.
- drive: start from the ids of the most selective membership condition (a tag, group,
  segment, a selection, or what the query box matched), look those rows up and sort
  them. Cost ~ size of that id set, so it is right when the set is small.

The sets are sized with capped counts (a few milliseconds each) and the cheaper plan
is taken. A query box sorted by name reads the folded name's stretch of its index instead
(`_name_sorted_text_query`). PostgreSQL plans from its own statistics, so there
the plain scan form is sent as is.

Counts: `count_profiles` is exact and may take longer than a page on very large
matches (hundreds of thousands of profiles that combine several conditions);
`estimate_count` answers at page speed, exactly when that is cheap and otherwise from
a sample of id ranges, marked `exact=False` so the page can show "about N" first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session, select

from ..models import (
    IDENTITY_PREFIX,
    MEMBERSHIP_STATES,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    AttributeProvenance,
    AuditEvent,
    Consent,
    FieldDefinition,
    Group,
    GroupMembership,
    Identity,
    IdentityKind,
    ImportJob,
    ImportRowResult,
    LinkedObject,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
    User,
    fold_name,
    utcnow,
)
from .attribute_search import FoldedAttribute, is_field_key
from .attribute_sort import attribute_sort_columns, can_sort_by
from .audit import record_event
from .crypto import encrypted_kinds, lookup_hashes, plain_value
from .importing.normalize import InvalidValue, normalize_email, normalize_phone
from .permissions import PROFILES_EDIT, PROFILES_TAG, PROFILES_VIEW, Actor

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
TAG_POLICIES = ("overwrite", "ignore")  # later imports: the data wins | this tag wins
LISTED_STATUSES = (STATUS_ACTIVE, STATUS_DEACTIVATED)

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


@dataclass
class ProfileFilter:
    """The list's query box and filters (all optional; the default lists active profiles).

    `text` matches a user id (or any identity value) exactly, an e-mail or phone number
    (normalized the way imports store them, so "0912 345 678" finds +84912345678), the
    start of an e-mail address once it has its "@" ("linh.nguyen@gm"), or the start of a
    full name in any case, with or without its accents ("nguyen van", "Nguyễn Văn" and
    "NGUYEN VAN" all find "Nguyễn Văn An": both sides are compared folded, fold_name). Identity kinds stored
    encrypted match whole values only
    (no e-mail prefix: see _text_ids). Tags are AND-ed: a profile must carry every tag in
    `tag_ids`, with the value in `tag_values` when one is given there. `created_to` is
    exclusive. `profile_ids` narrows to a selection. `text_fields`: text custom fields
    (their keys; the list's shown columns, attribute_search.can_search) whose folded
    values the query box also matches from their start, like names.
    """

    text: str = ""
    status: str = STATUS_ACTIVE
    group_id: int | None = None
    member_level: str | None = None
    tag_ids: list[int] = field(default_factory=list)
    tag_values: dict[int, str] = field(default_factory=dict)
    segment_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    profile_ids: list[int] | None = None
    text_fields: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (saved segments, export jobs); `from_json` reads it back."""
        data = asdict(self)
        for key in ("created_from", "created_to"):
            data[key] = data[key].isoformat() if data[key] else None
        data["tag_values"] = {str(k): v for k, v in self.tag_values.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProfileFilter":
        values = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        for key in ("created_from", "created_to"):
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
        values["tag_values"] = {int(k): v for k, v in (values.get("tag_values") or {}).items()}
        return cls(**values)

    def tag_conditions(self) -> list[tuple[int, str | None]]:
        """(tag id, required value or None) for every tag condition."""
        ids = list(dict.fromkeys([*self.tag_ids, *self.tag_values]))
        return [(tag_id, self.tag_values.get(tag_id)) for tag_id in ids]


# ---------------------------------------------------------------- SQL building blocks


class _PlainColumn(sa.sql.expression.ColumnElement):
    """A column the SQLite planner must not use an index for (rendered `+column`).

    The drive plan wraps the outer query's columns in it so SQLite starts from the id
    set instead of walking an index; elsewhere it is the column itself.
    """

    inherit_cache = True
    _traverse_internals = [("column", sa.sql.visitors.InternalTraversal.dp_clauseelement)]  # noqa: RUF012 (SQLAlchemy's protocol)

    def __init__(self, column: sa.ColumnElement) -> None:
        self.column = column
        self.type = column.type


@compiles(_PlainColumn)
def _plain_default(element: _PlainColumn, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_PlainColumn, "sqlite")
def _plain_sqlite(element: _PlainColumn, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


class _NamePrefix(sa.sql.expression.ColumnElement):
    """A folded name column starts with one of `variants` (folded forms of what was typed).

    SQLite: one index range per variant on (status, name_folded). PostgreSQL: a LIKE on
    the first (a range would follow the database's collation, which need not be
    code-point order there).
    """

    inherit_cache = True
    # not Boolean: SQLite would render a Boolean element inside OR as "(...) = 1", which
    # hides the ranges from the index
    type = sa.types.NullType()
    # the variants are part of the cache key: the compiled SQL holds them as literals
    _traverse_internals = [  # noqa: RUF012 (as above)
        ("column", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("variants", sa.sql.visitors.InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: sa.ColumnElement, variants: tuple[str, ...]) -> None:
        self.column = column
        self.variants = variants


_MAX_CHAR = chr(0x10FFFF)


@compiles(_NamePrefix)
def _name_prefix_default(element: _NamePrefix, compiler: Any, **kw: Any) -> str:
    ranges = [sa.and_(element.column >= v, element.column < v + _MAX_CHAR) for v in element.variants]
    return compiler.process(sa.or_(*ranges).self_group(), **kw)


@compiles(_NamePrefix, "postgresql")
def _name_prefix_pg(element: _NamePrefix, compiler: Any, **kw: Any) -> str:
    typed = element.variants[0]
    pattern = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return compiler.process(element.column.like(pattern, escape="\\"), **kw)


class _DriveJoin(sa.sql.selectable.Join):
    """`ids CROSS JOIN profiles ON ...` on SQLite: the id set is the outer loop (SQLite
    keeps the order of a CROSS JOIN), read in id order, so the row lookups walk the
    table forwards. Elsewhere a plain join, ordered by the planner."""

    inherit_cache = True


@compiles(_DriveJoin, "sqlite")
def _drive_join_sqlite(
    element: _DriveJoin, compiler: Any, asfrom: bool = True, from_linter: Any = None, **kw: Any
) -> str:
    if from_linter is not None:
        from_linter.edges.update((a, b) for a in element.left._from_objects for b in element.right._from_objects)
    left = element.left._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    right = element.right._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    on = element.onclause._compiler_dispatch(compiler, from_linter=from_linter, **kw)
    return f"{left} CROSS JOIN {right} ON {on}"


def _folded_prefix(column: sa.ColumnElement, text: str) -> sa.ColumnElement:
    """The folded name `column` starts with the folded `text` (fold_name: any accents and
    case typed or not). Text that folds to nothing (only marks) matches no name."""
    folded = fold_name(text)
    return _NamePrefix(column, (folded,)) if folded else sa.false()


@dataclass
class _Condition:
    """One filter condition: its WHERE form, and (for membership conditions) the ids it allows.

    `scan` is the condition tested row by row; `ids` selects the profile ids that can
    satisfy it (with duplicates allowed), used to drive the query when it is small.
    """

    scan: sa.ColumnElement
    ids: sa.Select | None = None
    known_size: int | None = None  # when the size is known without a query
    unique_ids: bool = True  # False: `ids` may name a profile more than once
    # the query box only: `id IN (ids)`, tested against a list SQLite builds once; cheaper
    # than `scan` (which reads each row's name) unless the list is very long
    scan_by_ids: sa.ColumnElement | None = None


def _exists(profile_column: sa.ColumnElement, *conditions: sa.ColumnElement) -> sa.ColumnElement:
    """EXISTS over a membership table, selecting only `profile_column`: SQLite answers
    `EXISTS (SELECT * ...)` from the table rows, this one from the index alone."""
    return select(profile_column).where(profile_column == Profile.id, *conditions).exists()


def _text_ids(text: str) -> sa.Select:
    """Profile ids whose identities match the query box text (exactly, or e-mail prefix).

    Kinds stored encrypted (services/crypto.py) are matched by the keyed hash of the text,
    as typed and normalized: exact values only. A hash says nothing about how a value
    starts, so the e-mail prefix search leaves out e-mails when they are encrypted.
    """
    text = " ".join(text.split())
    encrypted = sorted(encrypted_kinds())
    kinds = select(IdentityKind.key)
    if encrypted:
        kinds = kinds.where(IdentityKind.key.not_in(encrypted))

    def equals(kind: str, value: str) -> sa.ColumnElement:
        if kind in encrypted:
            return Identity.value.in_(lookup_hashes(kind, value))
        return Identity.value == value

    lookups: list[sa.Select] = [
        # any identity kind, as typed (user ids, custom ids): one index probe per kind
        select(Identity.profile_id).where(Identity.kind.in_(kinds), Identity.value == text),
        *[select(Identity.profile_id).where(Identity.kind == kind, equals(kind, text)) for kind in encrypted],
    ]
    for looks_like, normalize, kind in (
        ("@" in text, normalize_email, "email"),
        (any(ch.isdigit() for ch in text), normalize_phone, "phone"),
    ):
        if not looks_like:
            continue
        try:
            value = normalize(text)
        except InvalidValue:  # part of an e-mail/phone: the other conditions may still match
            value = None
        if value and value != text:
            lookups.append(select(Identity.profile_id).where(Identity.kind == kind, equals(kind, value)))
    prefix = text.lower()
    if "@" in prefix and " " not in prefix and "email" not in encrypted:  # the start of an e-mail
        lookups.append(
            select(Identity.profile_id).where(
                Identity.kind == "email", Identity.value >= prefix, Identity.value < prefix + _MAX_CHAR
            )
        )
    return sa.union_all(*lookups) if len(lookups) > 1 else lookups[0]


def _conditions(flt: ProfileFilter, *, plain: bool = False) -> tuple[list[sa.ColumnElement], list[_Condition]]:
    """(conditions on the profile row itself, membership conditions).

    `plain`: the row's columns are hidden from SQLite's index choice (drive plan, sample).
    """
    col = _PlainColumn if plain else (lambda c: c)
    row: list[sa.ColumnElement] = [col(Profile.status) == flt.status]
    if flt.member_level:
        row.append(col(Profile.member_level) == flt.member_level)
    if flt.created_from:
        row.append(col(Profile.created_at) >= flt.created_from)
    if flt.created_to:
        row.append(col(Profile.created_at) < flt.created_to)

    sets: list[_Condition] = []
    text = flt.text.strip()
    if text:
        identity_ids = _text_ids(text).subquery()
        named = sa.orm.aliased(Profile)
        # "status = ? AND name_folded in range": one range of ix_profiles_status_name_folded
        # and each text field's "status = ? AND folded value in range" (attribute_search.py)
        named_values = [named.name_folded, *_folded_fields(named, flt)]
        name_ids = [select(named.id).where(named.status == flt.status, _folded_prefix(v, text)) for v in named_values]
        ids = sa.union_all(select(identity_ids.c.profile_id), *name_ids)
        row_values = [col(Profile.name_folded), *_folded_fields(Profile, flt)]
        sets.append(
            _Condition(
                scan=sa.or_(
                    Profile.id.in_(select(identity_ids.c.profile_id)), *(_folded_prefix(v, text) for v in row_values)
                ),
                ids=ids,
                unique_ids=False,
                scan_by_ids=Profile.id.in_(ids),
            )
        )
    for tag_id, value in flt.tag_conditions():
        match = [ProfileTag.tag_id == tag_id]
        if value is not None:
            match.append(ProfileTag.value == value)
        sets.append(
            _Condition(
                scan=_exists(ProfileTag.profile_id, *match),
                ids=select(ProfileTag.profile_id).where(*match),
                unique_ids=value is not None,
            )
        )  # several values of a multi-value tag
    if flt.group_id:
        # deactivated members (membership sync) are hidden from the group's lists
        member = [GroupMembership.group_id == flt.group_id, GroupMembership.state != "deactivated"]
        sets.append(
            _Condition(
                scan=_exists(GroupMembership.profile_id, *member), ids=select(GroupMembership.profile_id).where(*member)
            )
        )
    if flt.segment_id:
        sets.append(
            _Condition(
                scan=_exists(SegmentMember.profile_id, SegmentMember.segment_id == flt.segment_id),
                ids=select(SegmentMember.profile_id).where(SegmentMember.segment_id == flt.segment_id),
            )
        )
    if flt.profile_ids is not None:
        ids = sorted(set(flt.profile_ids))
        # the rowid list is an access path of its own, so it stays indexable
        sets.append(_Condition(scan=Profile.id.in_(ids), known_size=len(ids)))
    return row, sets


def _folded_fields(profiles: Any, flt: ProfileFilter) -> list[sa.ColumnElement]:
    """The folded values of the filter's text fields, on `profiles` (the table or an alias)."""
    keys = dict.fromkeys(k for k in flt.text_fields if is_field_key(k))
    return [FoldedAttribute(profiles.attributes_folded, key) for key in keys]


def filter_condition(flt: ProfileFilter) -> sa.ColumnElement:
    """The WHERE clause of a filter over `profiles`; exporting and bulk actions reuse it."""
    return _where(flt)


def _where(flt: ProfileFilter, *, drive: int | None = None, text_by_ids: bool = False) -> sa.ColumnElement:
    """The filter's WHERE clause in the form a plan needs.

    `drive`: the position of the set to start from; its ids become the one access path
    SQLite has left (the row's own columns are hidden from the index choice).
    `text_by_ids`: test the query box against its id list instead of each row's name.
    """
    row, sets = _conditions(flt, plain=drive is not None)
    parts: list[sa.ColumnElement] = []
    for i, condition in enumerate(sets):
        if i == drive:
            parts.insert(0, Profile.id.in_(condition.ids) if condition.ids is not None else condition.scan)
        elif text_by_ids and condition.scan_by_ids is not None:
            parts.append(condition.scan_by_ids)
        else:
            parts.append(condition.scan)
    return sa.and_(*parts[:1], *row, *parts[1:]) if drive is not None else sa.and_(*row, *parts)


def _check_filter(flt: ProfileFilter) -> None:
    if flt.status not in (*LISTED_STATUSES, STATUS_DELETED):
        raise ProfileError(f"Unknown status '{flt.status}'")
    if flt.created_from and flt.created_to and flt.created_from >= flt.created_to:
        raise ProfileError("The 'created from' date must be before the 'created to' date")


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _set_size(session: Session, condition: _Condition, cap: int) -> int:
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


def _smallest_set(session: Session, flt: ProfileFilter, cap: int) -> _Driver | None:
    """None on PostgreSQL (its planner sizes sets itself) or without membership sets.

    Each set is counted only up to `cap` + 1 ids, so sizing costs at most a few index
    ranges of `cap` entries however large the sets are.
    """
    if not _is_sqlite(session):
        return None
    _, sets = _conditions(flt)
    if not sets:
        return None
    sizes = [_set_size(session, s, cap) for s in sets]
    smallest = min(range(len(sets)), key=sizes.__getitem__)
    return _Driver(smallest, sizes[smallest], cap)


def _text_list_is_short(session: Session, flt: ProfileFilter, rows_needed: int) -> bool:
    """Whether a scan should test rows against the query box's id list (built once, cost
    ~ its length) rather than read each walked row's name (cost ~ the rows walked:
    rows_needed x population / matches)."""
    if not flt.text.strip() or not _is_sqlite(session):
        return False
    _, sets = _conditions(flt)
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
        columns = tuple(_PlainColumn(c) for c in columns)
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

    `sort` is one of SORTABLE_COLUMNS or a custom attribute's key (attribute_sort.py); ties are broken by id,
    so pages never overlap.
    `page_size` is one of PAGE_SIZES (anything else becomes 50). When only the page
    changed, pass `with_total=False, known_total=<the total shown>`: the count is not
    run again, and pages in the second half are read from the other end (as fast as
    the first pages). Raises ProfileError for an unknown sort or status.

    For the list page: call this with `with_total=False`, show `estimate_count` (marked
    "about" when not exact), then replace it with `count_profiles` from a background event.
    """
    actor.require(PROFILES_VIEW)
    if sort not in SORTS:
        definition = session.get(FieldDefinition, sort)
        if definition is None or not can_sort_by(definition):
            raise ProfileError(f"Cannot sort by '{sort}'")
    _check_filter(flt)
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
    rows = _page_rows(session, flt, sort, descending != reverse, offset, limit) if limit > 0 else []
    if reverse:
        rows.reverse()
    return ProfilePage(rows=rows, total=total, page=page, page_size=page_size, sort=sort, descending=descending)


def _page_rows(
    session: Session, flt: ProfileFilter, sort: str, descending: bool, offset: int, limit: int
) -> list[Profile]:
    sqlite = _is_sqlite(session)
    rows_needed = offset + limit
    if sqlite and sort == "full_name" and flt.text.strip() and not flt.text_fields:
        query = _name_sorted_text_query(flt, descending, rows_needed)
    else:
        driver = None
        if sqlite and _conditions(flt)[1]:
            driver = _smallest_set(session, flt, _page_drive_cap(session, rows_needed))
        if _drive_for_page(session, driver, rows_needed):
            where, plain = _where(flt, drive=driver.index), True
        else:
            where, plain = _where(flt, text_by_ids=_text_list_is_short(session, flt, rows_needed)), False
        query = select(Profile.id).where(where).order_by(*_order_by(sort, descending, plain=plain))
    # ids first (from the index alone where it covers the filter), then those rows
    ids = session.execute(query.offset(offset).limit(limit)).scalars().all()
    if not ids:
        return []
    by_id = {p.id: p for p in session.exec(select(Profile).where(Profile.id.in_(ids))).all()}
    return [by_id[i] for i in ids if i in by_id]


def _name_sorted_text_query(flt: ProfileFilter, descending: bool, rows_needed: int) -> sa.Select:
    """Sorted by name with a query box (SQLite): the matches are the identity matches
    plus the folded name's stretch of (status, name_folded, full_name), which is already
    in the sort's order. The first `rows_needed` of each part, merged, hold the page, so
    no part walks the name index from "A" to the typed name."""
    _, sets = _conditions(flt)
    row, _ = _conditions(flt, plain=True)
    others = [c.scan for c in sets[1:]]  # the query box is always the first set
    text = " ".join(flt.text.split())
    identity_ids = _text_ids(text).subquery()
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
        .where(Profile.status == flt.status, _folded_prefix(Profile.name_folded, text), *row, *others)
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
    _check_filter(flt)
    return _exact_count(session, flt, _count_plan(session, flt))


def _row_size(session: Session, flt: ProfileFilter, cap: int) -> int:
    """How many profiles the row's own conditions (status, level, dates) allow, up to cap + 1."""
    row, _ = _conditions(flt)
    capped = select(Profile.id).where(*row).limit(cap + 1).subquery()
    return session.execute(select(sa.func.count()).select_from(capped)).scalar_one()


@dataclass
class _CountPlan:
    driver: _Driver | None  # None: test each row the row conditions allow
    cheap: bool  # answers at page speed


def _count_plan(session: Session, flt: ProfileFilter) -> _CountPlan:
    """Drive from the smallest set, unless the row conditions let fewer profiles through;
    `cheap` when either side is small enough to answer at page speed."""
    driver = _smallest_set(session, flt, _SET_SIZE_CAP)
    if driver is None:  # no sets (an index range count), or PostgreSQL (its planner)
        return _CountPlan(None, True)
    if driver.size <= _SET_SIZE_CAP:
        return _CountPlan(driver, True)
    rows = _row_size(session, flt, _ROW_SCAN_MAX)
    if rows <= _ROW_SCAN_MAX:  # few profiles pass the row conditions: probe those
        return _CountPlan(None, True)
    return _CountPlan(driver, False)  # every set is large: walk the smallest in id order


def _exact_count(session: Session, flt: ProfileFilter, plan: _CountPlan) -> int:
    if plan.driver is None:
        where = filter_condition(flt)
        return session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    row, sets = _conditions(flt, plain=True)
    driver = sets[plan.driver.index]
    others = [c.scan for i, c in enumerate(sets) if i != plan.driver.index]
    if driver.ids is None:  # a selection of ids: already the best access path
        where = _where(flt, drive=plan.driver.index)
        return session.execute(select(sa.func.count()).select_from(Profile).where(where)).scalar_one()
    ids = driver.ids.subquery("driving_ids")
    id_column = next(iter(ids.c))
    if not driver.unique_ids:
        ids = select(id_column).distinct().subquery("driving_ids_distinct")
        id_column = next(iter(ids.c))
    joined = _DriveJoin(ids, Profile.__table__, Profile.id == id_column)
    return session.execute(select(sa.func.count()).select_from(joined).where(*row, *others)).scalar_one()


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
    condition; one matching at most ~100,000 profiles; few profiles passing the status,
    level and date conditions; or PostgreSQL), otherwise estimated from evenly spread id
    ranges (about 32,000 ids) and marked `exact=False`. A sample is biased only when the
    matching profiles cluster by creation order far more than list filters normally do."""
    actor.require(PROFILES_VIEW)
    _check_filter(flt)
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
    row, sets = _conditions(flt, plain=True)
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


# ---------------------------------------------------------------- page helpers


def identities_of(*, session: Session, profile_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{profile id: {kind: [values]}} for a page of profiles, in one query."""
    result: dict[int, dict[str, list[str]]] = {pid: {} for pid in profile_ids}
    if not profile_ids:
        return result
    rows = session.exec(
        select(
            Identity.profile_id,
            Identity.kind,
            Identity.value,
            Identity.value_encrypted,
            Identity.key_id,
            Identity.is_encrypted,
        )
        .where(Identity.profile_id.in_(profile_ids))
        .order_by(Identity.id)
    ).all()
    for pid, kind, *stored in rows:  # encrypted values are decrypted for display
        result[pid].setdefault(kind, []).append(display_identity_value(*stored))
    return result


UNDECRYPTABLE = "•••• (cannot be decrypted)"


def display_identity_value(value: str, value_encrypted: str | None, key_id: str | None, is_encrypted: bool) -> str:
    """An identity as a person reads it: decrypted when stored encrypted (a marker when its
    key is not configured, never the hash)."""
    plain = plain_value(value, value_encrypted, key_id, is_encrypted)
    return UNDECRYPTABLE if plain is None else plain


def tags_of(
    *, session: Session, profile_ids: list[int], tag_ids: Sequence[int] | None = None
) -> dict[int, dict[int, list[str]]]:
    """{profile id: {tag id: [values]}} for a page of profiles (only `tag_ids` if given)."""
    result: dict[int, dict[int, list[str]]] = {pid: {} for pid in profile_ids}
    if not profile_ids or (tag_ids is not None and not tag_ids):
        return result
    query = select(ProfileTag.profile_id, ProfileTag.tag_id, ProfileTag.value).where(
        ProfileTag.profile_id.in_(profile_ids)
    )
    if tag_ids is not None:
        query = query.where(ProfileTag.tag_id.in_(list(tag_ids)))
    for pid, tag_id, value in session.exec(query.order_by(ProfileTag.id)).all():
        result[pid].setdefault(tag_id, []).append(value)
    return result


PROFILE_META_COLUMNS = ("created_at", "updated_at", "initial_source", "status", "id")
IDENTITY_COLUMN_PREFIX = IDENTITY_PREFIX
TAG_COLUMN_PREFIX = "tag:"


def format_value(value: Any) -> str:
    """A stored value as a person reads it in a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def page_cells(*, session: Session, rows: Sequence[Profile], columns: Sequence[str]) -> list[dict[str, str]]:
    """The list's cells: per row {"id": str(id), <column key>: text} for each column key.

    Column keys are those of view_prefs: a field key (system or custom attribute), a
    profile column in PROFILE_META_COLUMNS, "identity:<kind>" (values joined by ", ")
    or "tag:<id>" (the tag's values; "✓" for a tag without value). Two queries at most.
    """
    ids = [p.id for p in rows]
    kinds = [c[len(IDENTITY_COLUMN_PREFIX) :] for c in columns if c.startswith(IDENTITY_COLUMN_PREFIX)]
    tag_ids = [
        int(c[len(TAG_COLUMN_PREFIX) :])
        for c in columns
        if c.startswith(TAG_COLUMN_PREFIX) and c[len(TAG_COLUMN_PREFIX) :].isdigit()
    ]
    identities = identities_of(session=session, profile_ids=ids) if kinds else {}
    tags = tags_of(session=session, profile_ids=ids, tag_ids=tag_ids) if tag_ids else {}
    system = set(Profile.__table__.c.keys())
    out = []
    for p in rows:
        cells = {"id": str(p.id)}
        for column in columns:
            if column.startswith(IDENTITY_COLUMN_PREFIX):
                cells[column] = ", ".join(identities.get(p.id, {}).get(column[len(IDENTITY_COLUMN_PREFIX) :], []))
            elif column.startswith(TAG_COLUMN_PREFIX):
                tag_id = column[len(TAG_COLUMN_PREFIX) :]
                values = tags.get(p.id, {}).get(int(tag_id), []) if tag_id.isdigit() else []
                cells[column] = ", ".join(v or "✓" for v in values)
            elif column in system:
                cells[column] = format_value(getattr(p, column))
            else:
                cells[column] = format_value((p.attributes or {}).get(column))
        out.append(cells)
    return out


# ---------------------------------------------------------------- User 360


@dataclass(frozen=True)
class ProfileImportRow:
    """One applied import's row for a person: which file, who ran it, and what it did."""

    job_id: int
    kind: str
    file_name: str
    status: str  # completed | undone
    finished_at: datetime
    by_email: str | None
    row_number: int
    outcome: str
    changes: dict


def get_profile_360(*, session: Session, actor: Actor, profile_id: int) -> dict[str, Any]:
    """Everything the User 360 page shows about one person.

    Keys: profile, fields (FieldDefinition list in display order), identities,
    identity_values {identity id: the value as shown, decrypted when stored encrypted},
    tags [(ProfileTag, Tag, TagGroup)], segments [(Segment, SegmentMember)],
    groups [(Group, GroupMembership)], consent, linked, provenance {field key:
    AttributeProvenance} (`locked` = hand-edited, imports leave it), history (latest
    100 audit events about the profile, newest first), imports (what the latest 100
    applied imports did to the person: ProfileImportRow, newest first).
    """
    actor.require(PROFILES_VIEW)
    profile = session.get(Profile, profile_id)
    if profile is None or profile.status == STATUS_DELETED:
        raise ProfileError(f"Profile {profile_id} does not exist")
    identities = session.exec(
        select(Identity).where(Identity.profile_id == profile_id).order_by(Identity.kind, Identity.id)
    ).all()
    tags = session.exec(
        select(ProfileTag, Tag, TagGroup)
        .join(Tag, Tag.id == ProfileTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(ProfileTag.profile_id == profile_id)
        .order_by(TagGroup.name, Tag.name, ProfileTag.value)
    ).all()
    segments = session.exec(
        select(Segment, SegmentMember)
        .join(SegmentMember, SegmentMember.segment_id == Segment.id)
        .where(SegmentMember.profile_id == profile_id)
        .order_by(Segment.name)
    ).all()
    groups = session.exec(
        select(Group, GroupMembership)
        .join(GroupMembership, GroupMembership.group_id == Group.id)
        .where(GroupMembership.profile_id == profile_id)
        .order_by(Group.name)
    ).all()
    consent = session.exec(select(Consent).where(Consent.profile_id == profile_id).order_by(Consent.channel)).all()
    linked = session.exec(
        select(LinkedObject)
        .where(LinkedObject.profile_id == profile_id)
        .order_by(LinkedObject.object_type, LinkedObject.name)
    ).all()
    provenance = session.exec(select(AttributeProvenance).where(AttributeProvenance.profile_id == profile_id)).all()
    history = session.exec(
        select(AuditEvent)
        .where(AuditEvent.object_type == "profile", AuditEvent.object_id == str(profile_id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(100)
    ).all()
    # imports write one audit event per file, not per person: the person's own row results
    # say what each applied import did to them (dry runs and unfinished jobs left out)
    imports = session.exec(
        select(
            ImportJob.id,
            ImportJob.kind,
            ImportJob.file_name,
            ImportJob.status,
            ImportJob.finished_at,
            User.email,
            ImportRowResult.row_number,
            ImportRowResult.outcome,
            ImportRowResult.changes,
        )
        .join(ImportJob, ImportJob.id == ImportRowResult.job_id)
        .outerjoin(User, User.id == ImportJob.created_by)
        .where(
            ImportRowResult.profile_id == profile_id,
            ImportJob.status.in_(("completed", "undone")),
            ImportJob.finished_at.is_not(None),
        )
        .order_by(ImportJob.finished_at.desc(), ImportJob.id.desc())
        .limit(100)
    ).all()
    fields = session.exec(select(FieldDefinition).order_by(FieldDefinition.position, FieldDefinition.key)).all()
    return {
        "profile": profile,
        "fields": list(fields),
        "identities": list(identities),
        "identity_values": {
            i.id: display_identity_value(i.value, i.value_encrypted, i.key_id, i.is_encrypted) for i in identities
        },
        "tags": list(tags),
        "segments": list(segments),
        "groups": list(groups),
        "consent": list(consent),
        "linked": list(linked),
        "provenance": {p.field_key: p for p in provenance},
        "history": list(history),
        "imports": [ProfileImportRow(*row) for row in imports],
    }


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
        _check_filter(flt)
        if flt.status == STATUS_DELETED:
            raise ProfileError("Profiles in the trash cannot be changed: restore them first")
        return list(session.execute(select(Profile.id).where(filter_condition(flt)).order_by(Profile.id)).scalars())
    ids = sorted({int(i) for i in profile_ids or ()})
    if not ids:
        return []
    statuses: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        statuses.update(session.execute(select(Profile.id, Profile.status).where(Profile.id.in_(chunk))).all())
    missing = [i for i in ids if i not in statuses]
    if missing:
        raise ProfileError(f"Profile {', '.join(map(str, missing[:5]))} does not exist")
    trashed = [i for i in ids if statuses[i] == STATUS_DELETED]
    if trashed:
        raise ProfileError(in_trash_message(trashed))
    return ids


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
            session.execute(sa.delete(ProfileTag).where(ProfileTag.tag_id == tag_id, ProfileTag.profile_id.in_(chunk)))
        else:
            session.execute(
                sa.delete(ProfileTag).where(
                    ProfileTag.tag_id == tag_id, ProfileTag.profile_id.in_(chunk), ProfileTag.value == value
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
    where = [ProfileTag.tag_id == tag_id, ProfileTag.profile_id == profile_id]
    if value is not None:
        where.append(ProfileTag.value == value)
    removed = session.execute(sa.delete(ProfileTag).where(*where)).rowcount or 0
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
                    GroupMembership.group_id == group_id, GroupMembership.profile_id.in_(chunk)
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
    removed = session.execute(
        sa.delete(GroupMembership).where(GroupMembership.group_id == group_id, GroupMembership.profile_id == profile_id)
    ).rowcount
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
