"""Exports of profiles (permission profiles.export) and of the audit log.

What the export page calls:

- `preview_export`: how many profiles the list's filter (or a selection) holds, the
  columns the file will have and the ones left out, with the reason (the dialog shows it).
- `export_profiles`: under settings.export_sync_limit profiles the file is written at
  once (the page downloads it); from that limit on an ExportJob is queued and a background
  job (jobs/export_job.py) writes it, then notifies in-app and by e-mail with a link to
  `/exports/<id>/download`. Either way an ExportJob row records it, so `/exports` lists
  every export of the user.
- `download_export`: the file, for its owner (or an admin) until the link expires
  (settings.export_link_hours).
- `export_to_file`: the writer itself (the CLI and the job call it): any size, any format.

Columns are the list's column keys (the ones view_prefs stores and `profiles.page_cells`
shows): a field key (system column or custom attribute), a profile column
(id, initial_source, status, created_at, updated_at), "identity:<kind>", "tag:<id>",
"segments" and "groups". Headers are what a person reads: field labels, identity columns
labeled by how the value is stored (`EMAIL(UNENCRYPTED)`, `PHONE(AES)`), tag columns by
the tag name; values of one column that a profile has several of are joined with "|"
(identities and tags in the order they were added).
Identity kinds need the permission `export.identity.<kind>`; what the actor may not export
is left out and listed in the preview.

Cells a spreadsheet would run as a formula (starting with = + - @, tab, CR or NUL) are
neutralized: in CSV they get a leading `'`; in xlsx every text is written as a string cell
(never a formula). Plain signed numbers ("+84901234567", "-12.5") are numbers to a
spreadsheet, not formulas, so they stay as they are.

Streaming: profiles are read in keyset-paginated chunks (by id) with bulk SQL, each chunk
becomes a polars frame (identities, tags, segments and groups joined in by one grouped
query each, values joined by the database) and is appended to the file, so memory stays
flat whatever the size. xlsx is written by `_XlsxSink` (sheet XML built column-wise by
polars): xlsxwriter's per-cell calls cost ~12 µs a cell, 50,000 profiles x 21 columns
took ~14 s of CPU. An xlsx sheet holds 1,048,575 data rows; bigger exports continue on
further sheets.
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import polars as pl
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlmodel import Session, select

from ..models import (
    STATUS_ACTIVE, STATUS_DELETED, ExportJob, FieldDefinition, Group, GroupMembership, Identity,
    IdentityKind, Profile, ProfileTag, Segment, SegmentMember, Tag, TagGroup, utcnow,
)
from ..settings import get_settings
from .audit import record_event
from .permissions import (
    PROFILES_EXPORT, PROFILES_VIEW, SETTINGS_MANAGE, TRASH_MANAGE, Actor, NotSignedIn,
    PermissionDenied, export_identity_permission,
)
from .profiles import ProfileFilter, filter_condition

EXPORT_FORMATS = ("csv", "xlsx", "zip")
FIELDS_MODES = ("displayed", "all")
EXPORT_CHUNK_ROWS = 50_000
RELATED_READERS = 2  # worker threads reading identities/tags/... of large exports
XLSX_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header
MULTI_VALUE_SEPARATOR = "|"
TAG_WITHOUT_VALUE = "Yes"  # a tag that carries no value, in its column
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC

# column keys besides field keys (the list's own, see profiles.page_cells)
IDENTITY_PREFIX = "identity:"
TAG_PREFIX = "tag:"
SEGMENTS_COLUMN = "segments"
GROUPS_COLUMN = "groups"
META_COLUMNS: dict[str, str] = {  # profile column -> header
    "id": "Profile ID", "initial_source": "Initial source", "status": "Status",
    "created_at": "Created at", "updated_at": "Updated at",
}
_DATETIME_COLUMNS = {"registered_at", "created_at", "updated_at"}
_DATE_COLUMNS = {"birthday"}

STATUS_QUEUED, STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED = "queued", "running", "completed", "failed"

_FORMULA_START = r"^[=+\-@\t\r\x00]"
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_FORMULA_START_RE = re.compile(_FORMULA_START)
_PLAIN_NUMBER_RE = re.compile(_PLAIN_NUMBER)


class ExportError(ValueError):
    """Bad export request (or an export that cannot be downloaded); safe to show."""


class ExportExpired(ExportError):
    """The export's download link has expired."""


class NotYourExport(PermissionDenied):
    """Someone else's export: only its owner (or an admin) may download it."""

    def __init__(self, actor: Actor) -> None:
        Exception.__init__(self, f"{actor.email} may not download this export: it belongs to "
                                 "another user")
        self.permission = "export.owner"


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class ExportColumn:
    """One column of the file: its list key, its header, where its values come from."""

    key: str
    header: str
    source: str  # profile | attribute | identity | tag | segments | groups
    ref: str  # profile column, attribute key, identity kind, or tag id
    value_type: str = "text"  # text | number | boolean | list (how to render the value)


@dataclass(frozen=True)
class LeftOutColumn:
    key: str
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


@dataclass
class ExportPreview:
    """What the export dialog shows before the user confirms."""

    count: int  # profiles that will be exported
    columns: list[str]  # headers in file order
    left_out: list[str]  # "PHONE(UNENCRYPTED): your role may not export phone identities ..."
    background: bool  # count >= settings.export_sync_limit: a job writes it and notifies
    column_keys: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    """`background=False`: `path` is written, download it now. `background=True`: the job
    (`export_id`) is queued; the user is notified with `download_url` when it is done."""

    export_id: int
    status: str
    background: bool
    row_count: int | None
    path: Path | None
    download_url: str
    left_out: list[str] = field(default_factory=list)


def download_url(export_id: int) -> str:
    from ..routes import EXPORTS

    return f"{EXPORTS}/{export_id}/download"


# ---------------------------------------------------------------- formula neutralization
def neutralize_formula(value: str | None) -> str | None:
    """One text cell made safe for CSV: a leading ' when a spreadsheet would run it."""
    if value and _FORMULA_START_RE.match(value) and not _PLAIN_NUMBER_RE.match(value):
        return "'" + value
    return value


def _neutralized(column: str) -> pl.Expr:
    col = pl.col(column)
    risky = col.str.contains(_FORMULA_START) & ~col.str.contains(_PLAIN_NUMBER)
    return pl.when(risky.fill_null(False)).then(pl.lit("'") + col).otherwise(col).alias(column)


# ---------------------------------------------------------------- columns
def _identity_header(kind: str, encrypted_kinds: set[str]) -> str:
    return f"{kind.upper()}({'AES' if kind in encrypted_kinds else 'UNENCRYPTED'})"


@dataclass
class _Catalog:
    fields: dict[str, FieldDefinition]
    kinds: list[str]
    tags: dict[int, tuple[str, str]]  # id -> (name, group name), ordered by group, name


def _catalog(session: Session) -> _Catalog:
    fields = session.exec(select(FieldDefinition).order_by(FieldDefinition.position,
                                                           FieldDefinition.key)).all()
    kinds = session.exec(select(IdentityKind.key).order_by(IdentityKind.position, IdentityKind.key)).all()
    tags = session.exec(select(Tag.id, Tag.name, TagGroup.name).join(TagGroup, TagGroup.id == Tag.group_id)
                        .order_by(TagGroup.name, Tag.name)).all()
    return _Catalog(fields={f.key: f for f in fields}, kinds=list(kinds),
                    tags={tag_id: (name, group) for tag_id, name, group in tags})


def all_column_keys(*, session: Session) -> list[str]:
    """Every exportable column key, in the order "All fields" writes them."""
    catalog = _catalog(session)
    system = [k for k, f in catalog.fields.items() if f.is_system and k in Profile.__table__.c]
    custom = [k for k, f in catalog.fields.items() if not f.is_system]
    return ["id", *[IDENTITY_PREFIX + k for k in catalog.kinds], *system, *custom,
            *[f"{TAG_PREFIX}{t}" for t in catalog.tags], SEGMENTS_COLUMN, GROUPS_COLUMN,
            "initial_source", "created_at", "updated_at"]


FALLBACK_DISPLAYED_COLUMNS = ["full_name", "identity:phone", "identity:email", "member_level",
                              "created_at", "initial_source"]


def displayed_columns(*, session: Session, actor: Actor) -> list[str]:
    """The actor's list columns (services.view_prefs: their own, the admin default, or the
    built-in one): what "Displayed fields" exports when no columns are passed."""
    try:
        from .view_prefs import get_list_view
    except ImportError:  # the column chooser is not there: the list's built-in columns
        return list(FALLBACK_DISPLAYED_COLUMNS)
    if not actor.can(PROFILES_VIEW):
        return list(FALLBACK_DISPLAYED_COLUMNS)
    return list(get_list_view(session=session, actor=actor).columns)


def _value_type(definition: FieldDefinition) -> str:
    return {"number": "number", "boolean": "boolean", "multiple_choice": "list"}.get(definition.type, "text")


def plan_columns(
    *, session: Session, actor: Actor, fields_mode: str, columns: Sequence[str] | None,
) -> tuple[list[ExportColumn], list[LeftOutColumn]]:
    """The columns an export writes for this actor, and those left out (with the reason).

    `fields_mode` "all": every field, identity kind, tag, segments and groups;
    "displayed": `columns` (the user's list columns, in their order; None: the actor's
    saved list columns, see `displayed_columns`). The profile id always comes first so a
    file can be matched back.
    """
    if fields_mode not in FIELDS_MODES:
        raise ExportError(f"Unknown fields choice '{fields_mode}' (expected displayed or all)")
    if fields_mode == "all":
        keys = all_column_keys(session=session)
    else:
        if columns is None:
            columns = displayed_columns(session=session, actor=actor)
        if not columns:
            raise ExportError("Choose at least one column to export")
        keys = ["id", *[c for c in columns if c != "id"]]
    keys = list(dict.fromkeys(keys))
    catalog = _catalog(session)
    encrypted = set(get_settings().encrypted_identity_kinds)
    planned: list[ExportColumn] = []
    left_out: list[LeftOutColumn] = []
    for key in keys:
        if key.startswith(IDENTITY_PREFIX):
            kind = key[len(IDENTITY_PREFIX):]
            header = _identity_header(kind, encrypted)
            if kind not in catalog.kinds:
                left_out.append(LeftOutColumn(key, header, "no such identity kind"))
            elif not actor.can(export_identity_permission(kind)):
                left_out.append(LeftOutColumn(
                    key, header, f"your role may not export {kind} identities "
                                 f"(needs permission '{export_identity_permission(kind)}')"))
            else:
                planned.append(ExportColumn(key, header, "identity", kind))
        elif key.startswith(TAG_PREFIX):
            ref = key[len(TAG_PREFIX):]
            tag = catalog.tags.get(int(ref)) if ref.isdigit() else None
            if tag is None:
                left_out.append(LeftOutColumn(key, key, "this tag no longer exists"))
            elif not actor.can(PROFILES_VIEW):
                left_out.append(LeftOutColumn(key, tag[0], f"your role may not see tags "
                                                           f"(needs permission '{PROFILES_VIEW}')"))
            else:
                planned.append(ExportColumn(key, tag[0], "tag", ref))
        elif key in (SEGMENTS_COLUMN, GROUPS_COLUMN):
            planned.append(ExportColumn(key, key.capitalize(), key, key))
        elif key in catalog.fields:
            definition = catalog.fields[key]
            if definition.is_system and key in Profile.__table__.c:
                planned.append(ExportColumn(key, definition.label, "profile", key))
            else:
                planned.append(ExportColumn(key, definition.label, "attribute", key,
                                            _value_type(definition)))
        elif key in META_COLUMNS:
            planned.append(ExportColumn(key, META_COLUMNS[key], "profile", key,
                                        "number" if key == "id" else "text"))
        else:
            left_out.append(LeftOutColumn(key, key, "no such field (it may have been removed)"))
    return _unique_headers(planned, catalog), left_out


def _unique_headers(columns: list[ExportColumn], catalog: _Catalog) -> list[ExportColumn]:
    """Headers must differ (a tag may share its name with a field or another group's tag):
    a tag gets its group in brackets, anything else its key."""
    seen: dict[str, int] = {}
    for c in columns:
        seen[c.header.casefold()] = seen.get(c.header.casefold(), 0) + 1
    out, taken = [], set()
    for c in columns:
        header = c.header
        if seen[header.casefold()] > 1:
            header = (f"{header} [{catalog.tags[int(c.ref)][1]}]" if c.source == "tag"
                      else f"{header} [{c.key}]")
        while header.casefold() in taken:
            header += "'"
        taken.add(header.casefold())
        out.append(ExportColumn(c.key, header, c.source, c.ref, c.value_type))
    return out


# ---------------------------------------------------------------- which profiles
def _check_export_filter(actor: Actor, flt: ProfileFilter) -> None:
    if flt.status == STATUS_DELETED:
        actor.require(TRASH_MANAGE)


def count_matching(*, session: Session, flt: ProfileFilter) -> int:
    return session.execute(
        select(sa.func.count()).select_from(Profile).where(filter_condition(flt))
    ).scalar_one()


def preview_export(
    *, session: Session, actor: Actor, flt: ProfileFilter, fields_mode: str = "displayed",
    columns: Sequence[str] | None = None,
) -> ExportPreview:
    """How many profiles `flt` (the list's filters, or a selection in `flt.profile_ids`)
    exports, with which columns, and what is left out and why."""
    actor.require(PROFILES_EXPORT)
    _check_export_filter(actor, flt)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode,
                                     columns=columns)
    count = count_matching(session=session, flt=flt)
    return ExportPreview(count=count, columns=[c.header for c in planned],
                         left_out=[str(x) for x in left_out],
                         background=count >= get_settings().export_sync_limit,
                         column_keys=[c.key for c in planned])


# ---------------------------------------------------------------- reading chunks
def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _raw_rows(conn: sa.Connection, statement: sa.Select) -> list[tuple]:
    """The driver's own tuples: no per-value conversion (the frames convert whole columns)."""
    result = conn.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _frame(rows: Sequence[Sequence[Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row")


def _agg_text(postgres: bool, value: sa.ColumnElement, order: sa.ColumnElement) -> sa.ColumnElement:
    """Values of a group joined with "|" in the order they were added (NULLs skipped).

    SQLite's group_concat follows the index walk, which is profile id then row id."""
    if postgres:
        return sa.func.string_agg(value, aggregate_order_by(sa.literal_column("'|'"), order))
    return sa.func.group_concat(value, MULTI_VALUE_SEPARATOR)


def _profile_text(postgres: bool, column: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """A profile column as the text the file shows (dates ISO, datetimes UTC, no micros)."""
    if key in _DATETIME_COLUMNS:
        if postgres:
            return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 19)  # stored as UTC text
    if key in _DATE_COLUMNS:
        if postgres:
            return sa.func.to_char(column, "YYYY-MM-DD")
        return sa.func.substr(sa.type_coerce(column, sa.String()), 1, 10)
    return sa.type_coerce(column, sa.String())


def _decrypt(rows: Sequence[tuple]) -> list[tuple[int, str, str | None]]:
    """(profile id, kind, plain value) for identities stored encrypted.

    The values come from the crypto service (encryption at rest); until it exists, or when
    a value cannot be decrypted (a key rotated away), the cell stays empty: never the hash.
    """
    try:
        from .crypto import decrypt_identity_value  # type: ignore[attr-defined]
    except ImportError:
        return []
    out = []
    for profile_id, kind, encrypted, key_id in rows:
        try:
            out.append((profile_id, kind, decrypt_identity_value(encrypted, key_id)))
        except Exception:  # noqa: BLE001  (one undecryptable value must not stop the export)
            continue
    return out


class _ChunkReader:
    """The export's profiles, chunk by chunk (keyset on id), as frames of text cells named
    by column key. Per chunk: one query for the profiles (the filter's WHERE) and one
    grouped query per related table (identities, tags, segments, groups), joined on id.

    Large exports (a first chunk that is full) read the related tables of the next chunks
    on RELATED_READERS worker threads with their own connections while this thread reads
    profiles and the caller writes: the database and polars release the GIL, so the two
    cores both work. Those connections see committed data, which is all a large export
    (a background job, the CLI) reads; a small export stays on the caller's connection and
    sees its transaction.
    """

    def __init__(self, session: Session, flt: ProfileFilter, columns: list[ExportColumn],
                 chunk_rows: int) -> None:
        self.session = session
        self.conn = session.connection()
        self.postgres = _is_postgres(session)
        self.where = filter_condition(flt)
        self.columns = columns
        self.chunk_rows = chunk_rows
        self.profile_cols = list(dict.fromkeys(c.ref for c in columns
                                               if c.source == "profile" and c.ref != "id"))
        self.attributes = [c for c in columns if c.source == "attribute"]
        self.kinds = [c.ref for c in columns if c.source == "identity"]
        self.tag_ids = [int(c.ref) for c in columns if c.source == "tag"]
        self.sources = {c.source for c in columns}
        self.has_related = bool(self.kinds or self.tag_ids
                                or {SEGMENTS_COLUMN, GROUPS_COLUMN} & self.sources)

    def chunks(self) -> Iterator[pl.DataFrame]:
        """Frames with one text column per export column key; at least one (maybe empty)."""
        pool: _RelatedPool | None = None
        pending: deque[tuple[pl.DataFrame, Any]] = deque()
        try:
            for frame, full in self._profile_chunks():
                ids = frame["id"].to_list()
                if pool is None and full and self.has_related and RELATED_READERS > 0:
                    bind = self.session.get_bind()
                    if isinstance(bind, sa.Engine):
                        pool = _RelatedPool(bind, self, RELATED_READERS)
                if not ids or not self.has_related:
                    related = None
                elif pool is not None:
                    related = pool.submit(ids)
                else:
                    related = _Ready(self.related(self.conn, ids))
                pending.append((frame, related))
                while len(pending) > RELATED_READERS + 1:
                    yield self._assemble(*pending.popleft())
            while pending:
                yield self._assemble(*pending.popleft())
        finally:
            if pool is not None:
                pool.close()

    def _profile_chunks(self) -> Iterator[tuple[pl.DataFrame, bool]]:
        """(profile cells, whether the chunk was full) in id order; at least one frame."""
        table = Profile.__table__
        selected = [table.c.id, *[_profile_text(self.postgres, table.c[k], k).label(k)
                                  for k in self.profile_cols]]
        if self.attributes:
            selected.append(sa.cast(table.c.attributes, sa.Text).label("__attributes"))
        schema = {"id": pl.Int64(), **{k: pl.String() for k in self.profile_cols}}
        if self.attributes:
            schema["__attributes"] = pl.String()
        last_id, first = 0, True
        while True:
            query = (select(*selected).where(self.where, table.c.id > last_id)
                     .order_by(table.c.id).limit(self.chunk_rows))
            if not self.postgres:
                # walk the rowid in order: an index led by status would sort the whole match
                # again for every chunk
                query = query.with_hint(Profile, "NOT INDEXED", "sqlite")
            rows = _raw_rows(self.conn, query)
            if not rows and not first:
                return
            first = False
            frame = _frame(rows, schema)
            if self.attributes:
                frame = frame.with_columns([self._attribute(c) for c in self.attributes])
            full = len(rows) == self.chunk_rows
            yield frame, full
            if not full:
                return
            last_id = rows[-1][0]

    def _assemble(self, frame: pl.DataFrame, related: Any) -> pl.DataFrame:
        if related is not None:
            for part in related.result():
                frame = frame.join(part, on="id", how="left")
        return frame.select([
            (pl.col(c.key) if c.key in frame.columns else pl.lit(None)).cast(pl.String).alias(c.key)
            for c in self.columns])

    @staticmethod
    def _attribute(column: ExportColumn) -> pl.Expr:
        raw = pl.col("__attributes").str.json_path_match(f"$.{column.ref}")
        raw = pl.when(raw == "null").then(None).otherwise(raw)  # a JSON null: no value
        if column.value_type == "list":
            raw = pl.when(raw.str.starts_with("[")).then(
                raw.str.json_decode(pl.List(pl.String)).list.join(MULTI_VALUE_SEPARATOR)
            ).otherwise(raw)
        elif column.value_type == "boolean":
            raw = raw.replace({"true": "Yes", "false": "No"})
        return raw.alias(column.key)

    # ---- related tables: plain functions of a connection, so worker threads can run them
    def related(self, conn: sa.Connection, ids: list[int]) -> list[pl.DataFrame]:
        """Frames keyed by "id" with the chunk's identity, tag, segment and group cells."""
        parts = []
        if self.kinds:
            parts.append(self._identities(conn, ids))
        if self.tag_ids:
            parts.append(self._tags(conn, ids))
        if SEGMENTS_COLUMN in self.sources:
            parts.append(self._segments(conn, ids))
        if GROUPS_COLUMN in self.sources:
            parts.append(self._groups(conn, ids))
        return parts

    @staticmethod
    def _ids(column: sa.ColumnElement, ids: list[int]) -> list[sa.ColumnElement]:
        """The chunk's ids as a condition: a range when dense (one index range), else lists."""
        if ids[-1] - ids[0] + 1 <= 4 * len(ids):
            return [column.between(ids[0], ids[-1])]
        return [column.in_(ids[start:start + 5000]) for start in range(0, len(ids), 5000)]

    def _grouped(self, conn: sa.Connection, ids: list[int], build: Callable[[sa.ColumnElement], sa.Select],
                 column: sa.ColumnElement, names: list[str]) -> pl.DataFrame:
        schema = {"id": pl.Int64(), **{n: pl.String() for n in names}}
        rows: list[tuple] = []
        for condition in self._ids(column, ids):
            rows.extend(_raw_rows(conn, build(condition)))
        return _frame(rows, schema)

    def _identities(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        i = Identity.__table__.c
        names = [IDENTITY_PREFIX + k for k in self.kinds]
        plain = sa.not_(i.is_encrypted)
        frame = self._grouped(conn, ids, lambda cond: sa.select(
            i.profile_id,
            *[_agg_text(self.postgres, sa.case((sa.and_(i.kind == k, plain), i.value)), i.id)
              for k in self.kinds],
            sa.func.max(sa.case((i.is_encrypted, 1), else_=0)),
        ).where(cond).group_by(i.profile_id), i.profile_id, [*names, "__encrypted"])
        if frame["__encrypted"].cast(pl.Int64, strict=False).fill_null(0).max() or 0:
            frame = self._with_decrypted(conn, frame, ids)
        return frame.drop("__encrypted")

    def _with_decrypted(self, conn: sa.Connection, frame: pl.DataFrame, ids: list[int]) -> pl.DataFrame:
        i = Identity.__table__.c
        rows: list[tuple] = []
        for condition in self._ids(i.profile_id, ids):
            rows.extend(_raw_rows(conn, sa.select(i.profile_id, i.kind, i.value_encrypted, i.key_id)
                                  .where(condition, i.is_encrypted, i.kind.in_(self.kinds))
                                  .order_by(i.profile_id, i.id)))
        plain = _frame(_decrypt(rows), {"id": pl.Int64(), "kind": pl.String(), "value": pl.String()})
        for kind in self.kinds:
            name = IDENTITY_PREFIX + kind
            values = (plain.filter(pl.col("kind") == kind).group_by("id", maintain_order=True)
                      .agg(pl.col("value").str.join(MULTI_VALUE_SEPARATOR).alias("__plain")))
            frame = frame.join(values, on="id", how="left").with_columns(
                pl.concat_str([name, "__plain"], separator=MULTI_VALUE_SEPARATOR, ignore_nulls=True)
                .alias(name)).drop("__plain")
        return frame

    def _tags(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        t = ProfileTag.__table__.c
        cell = sa.case((sa.func.coalesce(t.value, "") == "", TAG_WITHOUT_VALUE), else_=t.value)
        names = [f"{TAG_PREFIX}{tag_id}" for tag_id in self.tag_ids]
        return self._grouped(conn, ids, lambda cond: sa.select(
            t.profile_id, *[_agg_text(self.postgres, sa.case((t.tag_id == tag_id, cell)), t.id)
                            for tag_id in self.tag_ids],
        ).where(cond).group_by(t.profile_id), t.profile_id, names)

    def _segments(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        m, s = SegmentMember.__table__.c, Segment.__table__.c
        cell = sa.case((sa.func.coalesce(m.value, "") == "", s.name), else_=s.name + ": " + m.value)
        return self._grouped(conn, ids, lambda cond: sa.select(m.profile_id, _agg_text(self.postgres, cell, s.name))
                             .select_from(SegmentMember.__table__.join(Segment.__table__, s.id == m.segment_id))
                             .where(cond).group_by(m.profile_id), m.profile_id, [SEGMENTS_COLUMN])

    def _groups(self, conn: sa.Connection, ids: list[int]) -> pl.DataFrame:
        m, g = GroupMembership.__table__.c, Group.__table__.c
        cell = g.name + " (" + m.state + ")"
        return self._grouped(conn, ids, lambda cond: sa.select(m.profile_id, _agg_text(self.postgres, cell, g.name))
                             .select_from(GroupMembership.__table__.join(Group.__table__, g.id == m.group_id))
                             .where(cond).group_by(m.profile_id), m.profile_id, [GROUPS_COLUMN])


class _Ready:
    """An already computed result, shaped like a Future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _RelatedPool:
    """Worker threads reading related tables, each on its own connection (kept for the
    export, closed at the end)."""

    def __init__(self, engine: sa.Engine, reader: _ChunkReader, workers: int) -> None:
        self.engine, self.reader = engine, reader
        self.local = threading.local()
        self.connections: list[sa.Connection] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export-read")

    def _connection(self) -> sa.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self.engine.connect()
            with self.lock:
                self.connections.append(conn)
        return conn

    def submit(self, ids: list[int]) -> Future:
        return self.executor.submit(lambda: self.reader.related(self._connection(), ids))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()


# ---------------------------------------------------------------- writing files
class _CsvSink:
    """CSV into a binary stream; text cells that a spreadsheet would run get a leading '."""

    def __init__(self, handle: IO[bytes], headers: list[str], *, bom: bool) -> None:
        self.handle, self.headers, self.bom, self.first = handle, headers, bom, True

    def write(self, frame: pl.DataFrame) -> None:
        frame = frame.rename(dict(zip(frame.columns, self.headers, strict=True)))
        frame = frame.with_columns([_neutralized(name) for name in frame.columns])
        frame.write_csv(self.handle, include_header=self.first, include_bom=self.bom and self.first)
        self.first = False

    def close(self) -> None:
        self.handle.close()


class _ZipSink(_CsvSink):
    """The same CSV, deflated into a zip archive as it is written."""

    def __init__(self, path: Path, inner_name: str, headers: list[str], *, bom: bool) -> None:
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        super().__init__(self.archive.open(inner_name, "w", force_zip64=True), headers, bom=bom)

    def close(self) -> None:
        super().close()
        self.archive.close()


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_HEAD = (
    _XML_HEAD + f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheetViews>'
    '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"
_STYLES = (  # two cell formats: 0 normal, 1 bold (the header row)
    _XML_HEAD + f'<styleSheet xmlns="{_MAIN_NS}"><fonts count="2"><font><sz val="11"/>'
    '<name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/>'
    '<family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
    '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" '
    'borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle '
    'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
XLSX_MAX_CELL_CHARS = 32_767
_XLSX_SLICE_ROWS = 5_000
# characters XML 1.0 cannot carry (and CR, which parsers turn into LF): OOXML writes them as
# _xHHHH_; a literal "_xHHHH_" in the data is kept by escaping its underscore (_x005F_)
_XML_UNSAFE = [chr(c) for c in (*range(0, 9), 11, 12, 13, *range(14, 32))]
_XML_UNSAFE_PATTERN = "[" + "".join(f"\\x{ord(c):02x}" for c in _XML_UNSAFE) + "]"


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: pl.Expr, has_unsafe: bool) -> pl.Expr:
    escaped = (value.str.slice(0, XLSX_MAX_CELL_CHARS)
               .str.replace_all("&", "&amp;", literal=True)
               .str.replace_all("<", "&lt;", literal=True)
               .str.replace_all(">", "&gt;", literal=True)
               .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1"))
    if has_unsafe:
        for char in _XML_UNSAFE:
            escaped = escaped.str.replace_all(char, f"_x{ord(char):04X}_", literal=True)
    return escaped


class _XlsxSink:
    """xlsx written as XML text built column-wise by polars, deflated into the package as
    it goes (memory stays one chunk; about 1 µs per cell instead of xlsxwriter's ~12 µs).

    Every text is an inline string cell (`t="inlineStr"`), so nothing in the data can ever
    be a formula: the package has no <f> element at all. Number columns (the profile id,
    number fields) are numeric cells when the value is a number. The header row is bold
    and frozen. Past XLSX_MAX_DATA_ROWS rows the export goes on in a new sheet with the
    headers again ("Profiles", "Profiles 2", ...).
    """

    def __init__(self, path: Path, columns: list[ExportColumn]) -> None:
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3)
        self.columns = columns
        self.letters = [_column_letters(i) for i in range(len(columns))]
        self.sheets = 0
        self.handle: IO[bytes] | None = None
        self.rows_in_sheet = 0

    def _open_sheet(self) -> None:
        self._close_sheet()
        self.sheets += 1
        self.handle = self.archive.open(f"xl/worksheets/sheet{self.sheets}.xml", "w", force_zip64=True)
        header = "".join(
            f'<c r="{letter}1" t="inlineStr" s="1"><is><t xml:space="preserve">'
            + escape(c.header) + "</t></is></c>" for letter, c in zip(self.letters, self.columns))
        self.handle.write((_SHEET_HEAD + f'<row r="1">{header}</row>').encode())
        self.rows_in_sheet = 0

    def _close_sheet(self) -> None:
        if self.handle is not None:
            self.handle.write(_SHEET_TAIL.encode())
            self.handle.close()
            self.handle = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.handle is None:
            self._open_sheet()
        offset = 0
        while offset < frame.height:
            if self.rows_in_sheet >= XLSX_MAX_DATA_ROWS:
                self._open_sheet()
            # a slice at a time: the XML of 50,000 rows would be a few hundred MB of strings
            take = min(frame.height - offset, XLSX_MAX_DATA_ROWS - self.rows_in_sheet, _XLSX_SLICE_ROWS)
            self.handle.write(self._rows_xml(frame.slice(offset, take), self.rows_in_sheet + 2).encode())
            self.rows_in_sheet += take
            offset += take

    def _rows_xml(self, frame: pl.DataFrame, first_row: int) -> str:
        names = frame.columns
        unsafe = frame.select([pl.col(n).str.contains(_XML_UNSAFE_PATTERN).any().alias(n)
                               for n in names]).row(0)
        row = pl.col("__row")
        cells = []
        for name, letter, column, has_unsafe in zip(names, self.letters, self.columns, unsafe):
            value = pl.col(name)
            ref = pl.concat_str([pl.lit(f'<c r="{letter}'), row])
            text_cell = pl.concat_str([ref, pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                                       _xml_text(value, bool(has_unsafe)), pl.lit("</t></is></c>")])
            if column.value_type == "number":
                number = value.cast(pl.Float64, strict=False)
                is_number = number.is_not_null() & number.is_finite()
                cell = pl.when(is_number).then(pl.concat_str(
                    [ref, pl.lit('"><v>'), value.str.strip_chars(), pl.lit("</v></c>")])).otherwise(text_cell)
            else:
                cell = text_cell
            cells.append(pl.when(value.fill_null("") == "").then(pl.lit("")).otherwise(cell))
        rows = frame.with_columns(
            pl.int_range(first_row, first_row + frame.height, dtype=pl.Int64).cast(pl.String).alias("__row")
        ).select(pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")])
                 .str.join("").alias("xml"))
        return rows.item()

    def close(self) -> None:
        if self.sheets == 0:
            self._open_sheet()
        self._close_sheet()
        sheets = range(1, self.sheets + 1)
        names = ["Profiles" if n == 1 else f"Profiles {n}" for n in sheets]
        parts = {
            "[Content_Types].xml": (
                _XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                + "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
                          'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for n in sheets)
                + "</Types>"),
            "_rels/.rels": (
                _XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
                f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
            "xl/workbook.xml": (
                _XML_HEAD + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews>'
                '<workbookView/></bookViews><sheets>'
                + "".join(f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>' for n, name in zip(sheets, names))
                + "</sheets></workbook>"),
            "xl/_rels/workbook.xml.rels": (
                _XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}">'
                + "".join(f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" '
                          f'Target="worksheets/sheet{n}.xml"/>' for n in sheets)
                + f'<Relationship Id="rId{self.sheets + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
                "</Relationships>"),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            self.archive.writestr(name, text)
        self.archive.close()


def _open_sink(fmt: str, path: Path, columns: list[ExportColumn], *, bom: bool) -> Any:
    headers = [c.header for c in columns]
    if fmt == "csv":
        return _CsvSink(path.open("wb"), headers, bom=bom)
    if fmt == "zip":
        inner = Path(path.name).with_suffix(".csv").name
        return _ZipSink(path, inner, headers, bom=bom)
    return _XlsxSink(path, columns)


def write_profiles_file(
    *, session: Session, flt: ProfileFilter, columns: list[ExportColumn], fmt: str,
    out_path: Path | str, chunk_rows: int = EXPORT_CHUNK_ROWS, bom: bool = True,
) -> int:
    """Stream the matching profiles into `out_path`; returns how many rows it holds.

    No permission check and no audit event: callers (export_to_file, export_profiles,
    the export job) do both. The file appears complete or not at all (written beside it
    under a temporary name, then renamed).
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format '{fmt}' (expected csv, xlsx or zip)")
    if not columns:
        raise ExportError("None of the chosen columns may be exported")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.part")
    total = 0
    try:
        sink = _open_sink(fmt, partial, columns, bom=bom)
        try:
            for chunk in _ChunkReader(session, flt, columns, chunk_rows).chunks():
                sink.write(chunk)
                total += chunk.height
        finally:
            sink.close()
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return total


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format '{fmt}' (expected csv, xlsx or zip)")


def record_export(
    *, session: Session, actor: Actor, flt: ProfileFilter, fields_mode: str, fmt: str,
    columns: list[ExportColumn], left_out: Sequence[LeftOutColumn | str], row_count: int,
    export_id: int | None = None, file_name: str | None = None,
) -> None:
    """The audit event every export writes: who (the actor), the filter, the fields, rows."""
    record_event(
        session=session, actor=actor, action="profiles.export", object_type="export",
        object_id=export_id,
        details={"format": fmt, "fields_mode": fields_mode, "filter": flt.to_json(),
                 "columns": [c.header for c in columns],
                 "left_out": [x.key if isinstance(x, LeftOutColumn) else str(x) for x in left_out],
                 "profiles": row_count, "file": file_name},
    )


def export_to_file(
    *, session: Session, actor: Actor, flt: ProfileFilter, out_path: Path | str,
    fields_mode: str = "all", columns: Sequence[str] | None = None, fmt: str = "csv",
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> tuple[int, list[str]]:
    """Write the export straight to `out_path` whatever its size (the CLI); audited.

    Returns (profiles written, left-out column descriptions).
    """
    actor.require(PROFILES_EXPORT)
    _check_format(fmt)
    _check_export_filter(actor, flt)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode,
                                     columns=columns)
    count = write_profiles_file(session=session, flt=flt, columns=planned, fmt=fmt,
                                out_path=out_path, chunk_rows=chunk_rows)
    record_export(session=session, actor=actor, flt=flt, fields_mode=fields_mode, fmt=fmt,
                  columns=planned, left_out=left_out, row_count=count, file_name=Path(out_path).name)
    return count, [str(x) for x in left_out]


# ---------------------------------------------------------------- the export page
def export_file_path(job: ExportJob) -> Path:
    """Where an export's file lives: DATA_DIR/exports/<id>/profiles-<time>.<format>."""
    stamp = job.created_at.strftime("%Y%m%d-%H%M%S")
    return get_settings().export_dir / str(job.id) / f"profiles-{stamp}.{job.format}"


def _enqueue_after_commit(session: Session, export_id: int) -> None:
    def send(_session: Session) -> None:
        from ..jobs.export_job import enqueue_export

        enqueue_export(export_id)

    event.listen(session, "after_commit", send, once=True)


def export_profiles(
    *, session: Session, actor: Actor, flt: ProfileFilter, fields_mode: str = "displayed",
    columns: Sequence[str] | None = None, fmt: str = "csv", enqueue: bool = True,
) -> ExportResult:
    """Export the list's filter (or a selection: `flt.profile_ids`) for a signed-in user.

    Under settings.export_sync_limit profiles the file is written now (`result.path`,
    status completed); from the limit on an ExportJob is queued (`background=True`) and,
    with enqueue=True, handed to the job queue when the caller commits; the job notifies
    the user with `result.download_url` when the file is ready. Raises ExportError for
    bad input, PermissionDenied without profiles.export.
    """
    actor.require(PROFILES_EXPORT)
    if actor.user_id is None:
        raise NotSignedIn()
    _check_format(fmt)
    _check_export_filter(actor, flt)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode,
                                     columns=columns)
    if not planned:
        raise ExportError("None of the chosen columns may be exported")
    count = count_matching(session=session, flt=flt)
    settings = get_settings()
    job = ExportJob(created_by=actor.user_id, status=STATUS_QUEUED, format=fmt,
                    fields_mode=fields_mode, filter=flt.to_json(), columns=[c.key for c in planned],
                    created_at=utcnow())
    session.add(job)
    session.flush()
    left = [str(x) for x in left_out]
    if count >= settings.export_sync_limit:
        record_event(session=session, actor=actor, action="profiles.export_queued",
                     object_type="export", object_id=job.id,
                     details={"format": fmt, "fields_mode": fields_mode, "filter": flt.to_json(),
                              "profiles": count})
        if enqueue:
            _enqueue_after_commit(session, job.id)
        return ExportResult(export_id=job.id, status=STATUS_QUEUED, background=True, row_count=None,
                            path=None, download_url=download_url(job.id), left_out=left)
    path = export_file_path(job)
    rows = write_profiles_file(session=session, flt=flt, columns=planned, fmt=fmt, out_path=path)
    finish_export_job(job, rows=rows, path=path)
    session.add(job)
    record_export(session=session, actor=actor, flt=flt, fields_mode=fields_mode, fmt=fmt,
                  columns=planned, left_out=left_out, row_count=rows, export_id=job.id,
                  file_name=path.name)
    return ExportResult(export_id=job.id, status=STATUS_COMPLETED, background=False, row_count=rows,
                        path=path, download_url=download_url(job.id), left_out=left)


def finish_export_job(job: ExportJob, *, rows: int, path: Path, now: datetime | None = None) -> None:
    """Mark the row completed; its link works for settings.export_link_hours from now."""
    now = now or utcnow()
    job.status = STATUS_COMPLETED
    job.row_count = rows
    job.file_path = str(path)
    job.finished_at = now
    job.expires_at = now + timedelta(hours=get_settings().export_link_hours)
    job.error = None


def _is_admin(actor: Actor) -> bool:
    return actor.can(SETTINGS_MANAGE)


def download_export(*, session: Session, actor: Actor, export_id: int, now: datetime | None = None) -> Path:
    """The file of a completed export, for its owner (or an admin) until its link expires.

    Raises PermissionDenied (NotYourExport for someone else's export), ExportExpired after
    expires_at, ExportError when it does not exist, is not ready, failed or its file is gone.
    Writes an audit event (who downloaded what).
    """
    actor.require(PROFILES_EXPORT)
    job = session.get(ExportJob, export_id)
    if job is None:
        raise ExportError(f"Export {export_id} does not exist")
    if job.created_by != actor.user_id and not _is_admin(actor):
        raise NotYourExport(actor)
    if job.status in (STATUS_QUEUED, STATUS_RUNNING):
        raise ExportError(f"Export {export_id} is not ready yet; you will be notified when it is")
    if job.status != STATUS_COMPLETED:
        raise ExportError(f"Export {export_id} failed: {job.error or 'unknown error'}")
    now = now or utcnow()
    if job.expires_at is not None and job.expires_at <= now:
        raise ExportExpired(f"The link of export {export_id} expired on "
                            f"{job.expires_at:%Y-%m-%d %H:%M} UTC; export the list again")
    path = Path(job.file_path or "")
    if not job.file_path or not path.is_file():
        raise ExportExpired(f"The file of export {export_id} is no longer available; export the list again")
    record_event(session=session, actor=actor, action="export.download", object_type="export",
                 object_id=job.id, details={"file": path.name, "profiles": job.row_count})
    return path


@dataclass
class ExportListItem:
    """A row of /exports. `download_url` is None unless the file can be downloaded now."""

    id: int
    status: str
    format: str
    fields_mode: str
    row_count: int
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    expired: bool
    download_url: str | None
    file_name: str | None
    error: str | None


def list_exports(*, session: Session, actor: Actor, limit: int = 50,
                 now: datetime | None = None) -> list[ExportListItem]:
    """The actor's own exports, newest first."""
    actor.require(PROFILES_EXPORT)
    if actor.user_id is None:
        raise NotSignedIn()
    now = now or utcnow()
    jobs = session.exec(select(ExportJob).where(ExportJob.created_by == actor.user_id)
                        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit)).all()
    items = []
    for job in jobs:
        expired = job.expires_at is not None and job.expires_at <= now
        ready = job.status == STATUS_COMPLETED and not expired and bool(job.file_path)
        items.append(ExportListItem(
            id=job.id, status=job.status, format=job.format, fields_mode=job.fields_mode,
            row_count=job.row_count, created_at=job.created_at, finished_at=job.finished_at,
            expires_at=job.expires_at, expired=expired,
            download_url=download_url(job.id) if ready else None,
            file_name=Path(job.file_path).name if job.file_path else None, error=job.error))
    return items


def delete_expired_export_files(*, session: Session, now: datetime | None = None) -> int:
    """Remove the files of exports whose link has expired (the rows stay for the list)."""
    now = now or utcnow()
    jobs = session.exec(select(ExportJob).where(ExportJob.expires_at <= now,
                                                ExportJob.file_path.is_not(None))).all()
    for job in jobs:
        path = Path(job.file_path)
        path.unlink(missing_ok=True)
        with_parent = path.parent
        if with_parent.is_dir() and not any(with_parent.iterdir()):
            with_parent.rmdir()
        job.file_path = None
        session.add(job)
    return len(jobs)


# ---------------------------------------------------------------- CLI: every active profile
def export_profiles_csv(*, session: Session, actor: Actor, out_path: str | Path,
                        chunk_rows: int = EXPORT_CHUNK_ROWS) -> int:
    """`profile-ui export-profiles`: every active profile to CSV, headers are keys (stable
    for scripts): id, one column per identity kind the actor may export, system fields,
    custom attributes, created_at, updated_at. Returns how many profiles it holds."""
    actor.require(PROFILES_EXPORT)
    keys = all_column_keys(session=session)
    wanted = [k for k in keys if not k.startswith(TAG_PREFIX)
              and k not in (SEGMENTS_COLUMN, GROUPS_COLUMN, "initial_source")]
    flt = ProfileFilter(status=STATUS_ACTIVE)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode="displayed",
                                     columns=wanted)
    keyed = [ExportColumn(c.key, c.ref if c.source == "identity" else c.key, c.source, c.ref,
                          c.value_type) for c in planned]
    total = write_profiles_file(session=session, flt=flt, columns=keyed, fmt="csv",
                                out_path=out_path, chunk_rows=chunk_rows, bom=False)
    record_export(session=session, actor=actor, flt=flt, fields_mode="all", fmt="csv",
                  columns=keyed, left_out=left_out, row_count=total, file_name=Path(out_path).name)
    return total


# ---------------------------------------------------------------- audit log as CSV
AUDIT_CSV_HEADERS = ("At (UTC)", "Actor", "Action", "Object type", "Object", "Reason", "Details")


def export_audit_csv(
    *, session: Session, actor: Actor, out: Path | str | IO[bytes],
    actor_email: str | None = None, action: str | None = None, object_type: str | None = None,
    object_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
    chunk_rows: int = 10_000,
) -> int:
    """The audit events matching the filters of `audit.list_events`, newest first, as CSV
    (streamed in chunks; formula-looking cells neutralized). Returns the number of events.
    The export itself is an audit event too."""
    from ..models import AuditEvent
    from .audit import event_conditions
    from .permissions import AUDIT_VIEW

    actor.require(AUDIT_VIEW)
    conditions = event_conditions(actor_email=actor_email, action=action, object_type=object_type,
                                  object_id=object_id, since=since, until=until)
    a = AuditEvent.__table__.c
    own = not hasattr(out, "write")
    if own:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = Path(out).open("wb") if own else out  # type: ignore[arg-type, assignment]
    total, last = 0, None
    try:
        sink = _CsvSink(handle, list(AUDIT_CSV_HEADERS), bom=True)
        schema = {"at": pl.String(), "actor": pl.String(), "action": pl.String(),
                  "object_type": pl.String(), "object_id": pl.String(), "reason": pl.String(),
                  "details": pl.String()}
        while True:
            query = sa.select(a.id, a.at, a.actor_email, a.action, a.object_type, a.object_id,
                              a.reason, sa.cast(a.details, sa.Text)).where(*conditions)
            if last is not None:
                query = query.where(a.id < last)
            rows = session.connection().execute(query.order_by(a.id.desc()).limit(chunk_rows)).all()
            frame = _frame([(r[1].strftime(DATETIME_FORMAT), *r[2:]) for r in rows], schema)
            if rows or total == 0:
                sink.write(frame)
            total += len(rows)
            if len(rows) < chunk_rows:
                break
            last = rows[-1][0]
    finally:
        if own:
            handle.close()
    record_event(session=session, actor=actor, action="audit.export", object_type="audit",
                 details={"events": total, "filters": {
                     "actor": actor_email, "action": action, "object_type": object_type,
                     "object_id": object_id, "since": since.isoformat() if since else None,
                     "until": until.isoformat() if until else None}})
    return total
