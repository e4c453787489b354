"""The list's filter (`ProfileFilter`) and its SQL: the WHERE clause of a filter
(`filter_condition`, which the list, export, trash and bulk actions use) and the pieces the
list's plans are built from (`split_conditions`: the row conditions and the membership sets).

The query box (`text`) matches identities exactly (normalized e-mail and phone too), the
start of an e-mail once it has its "@", and the start of the folded full name (`fold_name`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlmodel import select

from ...models import (
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    GroupMembership,
    Identity,
    IdentityKind,
    Profile,
    ProfileTag,
    SegmentMember,
    fold_name,
)
from ...settings import get_settings
from ..attribute_search import FoldedAttribute, is_field_key
from ..crypto import encrypted_kinds, lookup_hashes
from ..importing.normalize import InvalidValue, normalize_email, normalize_phone
from .errors import ProfileError

LISTED_STATUSES = (STATUS_ACTIVE, STATUS_DEACTIVATED)


@dataclass
class ProfileFilter:
    """The list's query box and filters (all optional; the default lists active profiles).

    `text` matches a user id (or any identity value) exactly, an e-mail or phone number
    (normalized the way imports store them, so "0912 345 678" finds +84912345678), the
    start of an e-mail address once it has its "@" ("linh.nguyen@gm"), or the start of a
    full name in any case, with or without its accents ("nguyen van", "Nguyễn Văn" and
    "NGUYEN VAN" all find "Nguyễn Văn An": both sides are compared folded, fold_name). Identity kinds stored
    encrypted match whole values only
    (no e-mail prefix: see text_ids). Tags are AND-ed: a profile must carry every tag in
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


class PlainColumn(sa.sql.expression.ColumnElement):
    """A column the SQLite planner must not use an index for (rendered `+column`).

    The drive plan wraps the outer query's columns in it so SQLite starts from the id
    set instead of walking an index; elsewhere it is the column itself.
    """

    inherit_cache = True
    _traverse_internals = [("column", sa.sql.visitors.InternalTraversal.dp_clauseelement)]  # noqa: RUF012 (SQLAlchemy's protocol)

    def __init__(self, column: sa.ColumnElement) -> None:
        self.column = column
        self.type = column.type


@compiles(PlainColumn)
def _plain_default(element: PlainColumn, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(PlainColumn, "sqlite")
def _plain_sqlite(element: PlainColumn, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


class _NamePrefix(sa.sql.expression.ColumnElement):
    """A folded name column starts with one of `variants` (folded forms of what was typed).

    SQLite: one index range per variant on (status, name_folded). PostgreSQL: a LIKE on
    the first (a range would follow the database's collation, which need not be
    code-point order there), read as a range of ix_profiles_prefix_name_folded (made with
    text_pattern_ops by migration 0016; a text field's ix_profiles_fold_<key> likewise).
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


class DriveJoin(sa.sql.selectable.Join):
    """`ids CROSS JOIN profiles ON ...` on SQLite: the id set is the outer loop (SQLite
    keeps the order of a CROSS JOIN), read in id order, so the row lookups walk the
    table forwards. Elsewhere a plain join, ordered by the planner."""

    inherit_cache = True


@compiles(DriveJoin, "sqlite")
def _drive_join_sqlite(
    element: DriveJoin, compiler: Any, asfrom: bool = True, from_linter: Any = None, **kw: Any
) -> str:
    if from_linter is not None:
        from_linter.edges.update((a, b) for a in element.left._from_objects for b in element.right._from_objects)
    left = element.left._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    right = element.right._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
    on = element.onclause._compiler_dispatch(compiler, from_linter=from_linter, **kw)
    return f"{left} CROSS JOIN {right} ON {on}"


def folded_prefix(column: sa.ColumnElement, text: str) -> sa.ColumnElement:
    """The folded name `column` starts with the folded `text` (fold_name: any accents and
    case typed or not). Text that folds to nothing (only marks) matches no name."""
    folded = fold_name(text)
    return _NamePrefix(column, (folded,)) if folded else sa.false()


@dataclass
class Condition:
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


@lru_cache(maxsize=256)
def _normalized_forms(text: str, phone_region: str) -> tuple[tuple[str, str], ...]:
    """(kind, value) for each identity kind the text reads as once normalized ("0912 345 678"
    -> phone +84912345678), when that differs from the text.

    Cached: normalizing one value goes through the importer's polars path (a few
    milliseconds per kind), and one search builds its conditions several times (the page's
    plan choice, its query, the count); `phone_region` is part of the key because it is
    part of the result."""
    forms = []
    for looks_like, normalize, kind in (
        ("@" in text, normalize_email, "email"),
        (any(ch.isdigit() for ch in text), lambda v: normalize_phone(v, phone_region), "phone"),
    ):
        if not looks_like:
            continue
        try:
            value = normalize(text)
        except InvalidValue:  # part of an e-mail/phone: the other conditions may still match
            value = None
        if value and value != text:
            forms.append((kind, value))
    return tuple(forms)


def text_ids(text: str) -> sa.Select:
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
    for kind, value in _normalized_forms(text, get_settings().default_phone_region):
        lookups.append(select(Identity.profile_id).where(Identity.kind == kind, equals(kind, value)))
    prefix = text.lower()
    if "@" in prefix and " " not in prefix and "email" not in encrypted:  # the start of an e-mail
        lookups.append(
            select(Identity.profile_id).where(
                Identity.kind == "email", Identity.value >= prefix, Identity.value < prefix + _MAX_CHAR
            )
        )
    return sa.union_all(*lookups) if len(lookups) > 1 else lookups[0]


# the profiles a query box's name ranges read, apart from the outer query's; one alias for
# every query (SQLAlchemy adapts an alias's columns on first use: milliseconds per new alias)
_NAMED_PROFILES = sa.orm.aliased(Profile, name="named_profiles")


def split_conditions(flt: ProfileFilter, *, plain: bool = False) -> tuple[list[sa.ColumnElement], list[Condition]]:
    """(conditions on the profile row itself, membership conditions).

    `plain`: the row's columns are hidden from SQLite's index choice (drive plan, sample).
    """
    col = PlainColumn if plain else (lambda c: c)
    row: list[sa.ColumnElement] = [col(Profile.status) == flt.status]
    if flt.member_level:
        row.append(col(Profile.member_level) == flt.member_level)
    if flt.created_from:
        row.append(col(Profile.created_at) >= flt.created_from)
    if flt.created_to:
        row.append(col(Profile.created_at) < flt.created_to)

    sets: list[Condition] = []
    text = flt.text.strip()
    if text:
        identity_ids = text_ids(text).subquery()
        named = _NAMED_PROFILES
        # "status = ? AND name_folded in range": one range of ix_profiles_status_name_folded
        # and each text field's "status = ? AND folded value in range" (attribute_search.py)
        named_values = [named.name_folded, *_folded_fields(named, flt)]
        name_ids = [select(named.id).where(named.status == flt.status, folded_prefix(v, text)) for v in named_values]
        ids = sa.union_all(select(identity_ids.c.profile_id), *name_ids)
        row_values = [col(Profile.name_folded), *_folded_fields(Profile, flt)]
        sets.append(
            Condition(
                scan=sa.or_(
                    Profile.id.in_(select(identity_ids.c.profile_id)), *(folded_prefix(v, text) for v in row_values)
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
            Condition(
                scan=_exists(ProfileTag.profile_id, *match),
                ids=select(ProfileTag.profile_id).where(*match),
                unique_ids=value is not None,
            )
        )  # several values of a multi-value tag
    if flt.group_id:
        # deactivated members (membership sync) are hidden from the group's lists
        member = [GroupMembership.group_id == flt.group_id, GroupMembership.state != "deactivated"]
        sets.append(
            Condition(
                scan=_exists(GroupMembership.profile_id, *member), ids=select(GroupMembership.profile_id).where(*member)
            )
        )
    if flt.segment_id:
        sets.append(
            Condition(
                scan=_exists(SegmentMember.profile_id, SegmentMember.segment_id == flt.segment_id),
                ids=select(SegmentMember.profile_id).where(SegmentMember.segment_id == flt.segment_id),
            )
        )
    if flt.profile_ids is not None:
        ids = sorted(set(flt.profile_ids))
        # the rowid list is an access path of its own, so it stays indexable
        sets.append(Condition(scan=Profile.id.in_(ids), known_size=len(ids)))
    return row, sets


def _folded_fields(profiles: Any, flt: ProfileFilter) -> list[sa.ColumnElement]:
    """The folded values of the filter's text fields, on `profiles` (the table or an alias)."""
    keys = dict.fromkeys(k for k in flt.text_fields if is_field_key(k))
    return [FoldedAttribute(profiles.attributes_folded, key) for key in keys]


def filter_condition(flt: ProfileFilter) -> sa.ColumnElement:
    """The WHERE clause of a filter over `profiles`; exporting and bulk actions reuse it."""
    return where_clause(flt)


def where_clause(flt: ProfileFilter, *, drive: int | None = None, text_by_ids: bool = False) -> sa.ColumnElement:
    """The filter's WHERE clause in the form a plan needs.

    `drive`: the position of the set to start from; its ids become the one access path
    SQLite has left (the row's own columns are hidden from the index choice).
    `text_by_ids`: test the query box against its id list instead of each row's name.
    """
    row, sets = split_conditions(flt, plain=drive is not None)
    parts: list[sa.ColumnElement] = []
    for i, condition in enumerate(sets):
        if i == drive:
            parts.insert(0, Profile.id.in_(condition.ids) if condition.ids is not None else condition.scan)
        elif text_by_ids and condition.scan_by_ids is not None:
            parts.append(condition.scan_by_ids)
        else:
            parts.append(condition.scan)
    return sa.and_(*parts[:1], *row, *parts[1:]) if drive is not None else sa.and_(*row, *parts)


def check_filter(flt: ProfileFilter) -> None:
    if flt.status not in (*LISTED_STATUSES, STATUS_DELETED):
        raise ProfileError(f"Unknown status '{flt.status}'")
    if flt.created_from and flt.created_to and flt.created_from >= flt.created_to:
        raise ProfileError("The 'created from' date must be before the 'created to' date")
