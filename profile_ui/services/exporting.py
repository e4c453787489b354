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

The file itself is streamed by services/export_writer.py (memory flat with size) into the
sinks of services/sheet_writer.py, the app's one CSV/xlsx writer: no header or cell of an
export or of the audit CSV runs as a formula in a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from ..links import export_download_url
from ..models import (
    STATUS_ACTIVE,
    STATUS_DELETED,
    AuditEvent,
    ExportJob,
    ExportStatus,
    FieldDefinition,
    Profile,
    Tag,
    TagGroup,
    utcnow,
)
from ..settings import get_settings
from . import dispatch
from .audit import event_conditions, record_event
from .catalog import field_definitions, identity_kinds
from .export_format import (
    DATETIME_FORMAT,
    EXPORT_CHUNK_ROWS,
    EXPORT_FORMATS,
    FIELDS_MODES,
    GROUPS_COLUMN,
    IDENTITY_PREFIX,
    META_COLUMNS,
    SEGMENTS_COLUMN,
    TAG_PREFIX,
    ExportColumn,
    ExportError,
    ExportExpired,
    ExportNotFound,
)
from .export_reading import text_frame
from .export_writer import write_profiles_file
from .permissions import (
    AUDIT_VIEW,
    PROFILES_EXPORT,
    PROFILES_VIEW,
    SETTINGS_MANAGE,
    TRASH_MANAGE,
    Actor,
    NotSignedIn,
    export_identity_permission,
)
from .profiles import ProfileFilter, filter_condition
from .sheet_writer import CsvSink
from .view_prefs import get_list_view

STATUS_QUEUED, STATUS_RUNNING = ExportStatus.QUEUED, ExportStatus.RUNNING
STATUS_COMPLETED, STATUS_FAILED = ExportStatus.COMPLETED, ExportStatus.FAILED


class NotYourExport(ExportNotFound):
    """Someone else's export: only its owner (or an admin) may download it. Answered as if
    it did not exist (ExportNotFound)."""


# ---------------------------------------------------------------- results
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


# ---------------------------------------------------------------- columns
def _identity_header(kind: str, encrypted_kinds: set[str]) -> str:
    return f"{kind.upper()}({'AES' if kind in encrypted_kinds else 'UNENCRYPTED'})"


@dataclass
class _Catalog:
    fields: dict[str, FieldDefinition]
    kinds: list[str]
    tags: dict[int, tuple[str, str]]  # id -> (name, group name), ordered by group, name


def _catalog(session: Session) -> _Catalog:
    fields = field_definitions(session).values()
    kinds = identity_kinds(session)
    tags = session.exec(
        select(Tag.id, Tag.name, TagGroup.name)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .order_by(TagGroup.name, Tag.name)
    ).all()
    return _Catalog(
        fields={f.key: f for f in fields},
        kinds=list(kinds),
        tags={tag_id: (name, group) for tag_id, name, group in tags},
    )


def all_column_keys(*, session: Session) -> list[str]:
    """Every exportable column key, in the order "All fields" writes them."""
    catalog = _catalog(session)
    system = [k for k, f in catalog.fields.items() if f.is_system and k in Profile.__table__.c]
    custom = [k for k, f in catalog.fields.items() if not f.is_system]
    return [
        "id",
        *[IDENTITY_PREFIX + k for k in catalog.kinds],
        *system,
        *custom,
        *[f"{TAG_PREFIX}{t}" for t in catalog.tags],
        SEGMENTS_COLUMN,
        GROUPS_COLUMN,
        "initial_source",
        "created_at",
        "updated_at",
    ]


FALLBACK_DISPLAYED_COLUMNS = [
    "full_name",
    "identity:phone",
    "identity:email",
    "member_level",
    "created_at",
    "initial_source",
]


def displayed_columns(*, session: Session, actor: Actor) -> list[str]:
    """The actor's list columns (services.view_prefs: their own, the admin default, or the
    built-in one): what "Displayed fields" exports when no columns are passed."""
    if not actor.can(PROFILES_VIEW):
        return list(FALLBACK_DISPLAYED_COLUMNS)
    return list(get_list_view(session=session, actor=actor).columns)


def _value_type(definition: FieldDefinition) -> str:
    return {"number": "number", "boolean": "boolean", "multiple_choice": "list"}.get(definition.type, "text")


def plan_columns(
    *,
    session: Session,
    actor: Actor,
    fields_mode: str,
    columns: Sequence[str] | None,
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
            kind = key[len(IDENTITY_PREFIX) :]
            header = _identity_header(kind, encrypted)
            if kind not in catalog.kinds:
                left_out.append(LeftOutColumn(key, header, "no such identity kind"))
            elif not actor.can(export_identity_permission(kind)):
                left_out.append(
                    LeftOutColumn(
                        key,
                        header,
                        f"your role may not export {kind} identities "
                        f"(needs permission '{export_identity_permission(kind)}')",
                    )
                )
            else:
                planned.append(ExportColumn(key, header, "identity", kind))
        elif key.startswith(TAG_PREFIX):
            ref = key[len(TAG_PREFIX) :]
            tag = catalog.tags.get(int(ref)) if ref.isdigit() else None
            if tag is None:
                left_out.append(LeftOutColumn(key, key, "this tag no longer exists"))
            elif not actor.can(PROFILES_VIEW):
                left_out.append(
                    LeftOutColumn(key, tag[0], f"your role may not see tags (needs permission '{PROFILES_VIEW}')")
                )
            else:
                planned.append(ExportColumn(key, tag[0], "tag", ref))
        elif key in (SEGMENTS_COLUMN, GROUPS_COLUMN):
            planned.append(ExportColumn(key, key.capitalize(), key, key))
        elif key in catalog.fields:
            definition = catalog.fields[key]
            if definition.is_system and key in Profile.__table__.c:
                planned.append(ExportColumn(key, definition.label, "profile", key))
            else:
                planned.append(ExportColumn(key, definition.label, "attribute", key, _value_type(definition)))
        elif key in META_COLUMNS:
            planned.append(ExportColumn(key, META_COLUMNS[key], "profile", key, "number" if key == "id" else "text"))
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
            header = f"{header} [{catalog.tags[int(c.ref)][1]}]" if c.source == "tag" else f"{header} [{c.key}]"
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
    return session.execute(select(sa.func.count()).select_from(Profile).where(filter_condition(flt))).scalar_one()


def preview_export(
    *,
    session: Session,
    actor: Actor,
    flt: ProfileFilter,
    fields_mode: str = "displayed",
    columns: Sequence[str] | None = None,
) -> ExportPreview:
    """How many profiles `flt` (the list's filters, or a selection in `flt.profile_ids`)
    exports, with which columns, and what is left out and why."""
    actor.require(PROFILES_EXPORT)
    _check_export_filter(actor, flt)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode, columns=columns)
    count = count_matching(session=session, flt=flt)
    return ExportPreview(
        count=count,
        columns=[c.header for c in planned],
        left_out=[str(x) for x in left_out],
        background=count >= get_settings().export_sync_limit,
        column_keys=[c.key for c in planned],
    )


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format '{fmt}' (expected csv, xlsx or zip)")


def record_export(
    *,
    session: Session,
    actor: Actor,
    flt: ProfileFilter,
    fields_mode: str,
    fmt: str,
    columns: list[ExportColumn],
    left_out: Sequence[LeftOutColumn | str],
    row_count: int,
    export_id: int | None = None,
    file_name: str | None = None,
) -> None:
    """The audit event every export writes: who (the actor), the filter, the fields, rows."""
    record_event(
        session=session,
        actor=actor,
        action="profiles.export",
        object_type="export",
        object_id=export_id,
        details={
            "format": fmt,
            "fields_mode": fields_mode,
            "filter": flt.to_json(),
            "columns": [c.header for c in columns],
            "left_out": [x.key if isinstance(x, LeftOutColumn) else str(x) for x in left_out],
            "profiles": row_count,
            "file": file_name,
        },
    )


def export_to_file(
    *,
    session: Session,
    actor: Actor,
    flt: ProfileFilter,
    out_path: Path | str,
    fields_mode: str = "all",
    columns: Sequence[str] | None = None,
    fmt: str = "csv",
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> tuple[int, list[str]]:
    """Write the export straight to `out_path` whatever its size (the CLI); audited.

    Returns (profiles written, left-out column descriptions).
    """
    actor.require(PROFILES_EXPORT)
    _check_format(fmt)
    _check_export_filter(actor, flt)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode, columns=columns)
    count = write_profiles_file(
        session=session, flt=flt, columns=planned, fmt=fmt, out_path=out_path, chunk_rows=chunk_rows
    )
    record_export(
        session=session,
        actor=actor,
        flt=flt,
        fields_mode=fields_mode,
        fmt=fmt,
        columns=planned,
        left_out=left_out,
        row_count=count,
        file_name=Path(out_path).name,
    )
    return count, [str(x) for x in left_out]


# ---------------------------------------------------------------- the export page
def export_file_path(job: ExportJob) -> Path:
    """Where an export's file lives: DATA_DIR/exports/<id>/profiles-<time>.<format>."""
    stamp = job.created_at.strftime("%Y%m%d-%H%M%S")
    return get_settings().export_dir / str(job.id) / f"profiles-{stamp}.{job.format}"


def export_profiles(
    *,
    session: Session,
    actor: Actor,
    flt: ProfileFilter,
    fields_mode: str = "displayed",
    columns: Sequence[str] | None = None,
    fmt: str = "csv",
    enqueue: bool = True,
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
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode=fields_mode, columns=columns)
    if not planned:
        raise ExportError("None of the chosen columns may be exported")
    count = count_matching(session=session, flt=flt)
    settings = get_settings()
    job = ExportJob(
        created_by=actor.user_id,
        status=STATUS_QUEUED,
        format=fmt,
        fields_mode=fields_mode,
        filter=flt.to_json(),
        columns=[c.key for c in planned],
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    left = [str(x) for x in left_out]
    if count >= settings.export_sync_limit:
        record_event(
            session=session,
            actor=actor,
            action="profiles.export_queued",
            object_type="export",
            object_id=job.id,
            details={"format": fmt, "fields_mode": fields_mode, "filter": flt.to_json(), "profiles": count},
        )
        if enqueue:
            dispatch.after_commit(session, dispatch.EXPORT_FILE, job.id)
        return ExportResult(
            export_id=job.id,
            status=STATUS_QUEUED,
            background=True,
            row_count=None,
            path=None,
            download_url=export_download_url(job.id),
            left_out=left,
        )
    path = export_file_path(job)
    rows = write_profiles_file(session=session, flt=flt, columns=planned, fmt=fmt, out_path=path, at_rest=True)
    finish_export_job(job, rows=rows, path=path)
    session.add(job)
    record_export(
        session=session,
        actor=actor,
        flt=flt,
        fields_mode=fields_mode,
        fmt=fmt,
        columns=planned,
        left_out=left_out,
        row_count=rows,
        export_id=job.id,
        file_name=path.name,
    )
    return ExportResult(
        export_id=job.id,
        status=STATUS_COMPLETED,
        background=False,
        row_count=rows,
        path=path,
        download_url=export_download_url(job.id),
        left_out=left,
    )


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

    Raises PermissionDenied without the export permission; ExportNotFound when it does not
    exist or is someone else's (NotYourExport: the same answer), ExportExpired after
    expires_at, ExportError when it is not ready, failed or its file is gone.
    Writes an audit event (who downloaded what).
    """
    actor.require(PROFILES_EXPORT)
    job = session.get(ExportJob, export_id)
    if job is None:
        raise ExportNotFound(export_id)
    if job.created_by != actor.user_id and not _is_admin(actor):
        raise NotYourExport(export_id)
    if job.status in (STATUS_QUEUED, STATUS_RUNNING):
        raise ExportError(f"Export {export_id} is not ready yet; you will be notified when it is")
    if job.status != STATUS_COMPLETED:
        raise ExportError(f"Export {export_id} failed: {job.error or 'unknown error'}")
    now = now or utcnow()
    if job.expires_at is not None and job.expires_at <= now:
        raise ExportExpired(
            f"The link of export {export_id} expired on {job.expires_at:%Y-%m-%d %H:%M} UTC; export the list again"
        )
    path = Path(job.file_path or "")
    if not job.file_path or not path.is_file():
        raise ExportExpired(f"The file of export {export_id} is no longer available; export the list again")
    record_event(
        session=session,
        actor=actor,
        action="export.download",
        object_type="export",
        object_id=job.id,
        details={"file": path.name, "profiles": job.row_count},
    )
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


def export_status(*, session: Session, actor: Actor, export_id: int) -> str | None:
    """The status of one of the actor's exports (an admin's: anyone's); None if there is no such
    export. Raises NotYourExport for someone else's (what a page polls while a job runs)."""
    actor.require(PROFILES_EXPORT)
    job = session.get(ExportJob, export_id)
    if job is None:
        return None
    if job.created_by != actor.user_id and not _is_admin(actor):
        raise NotYourExport(export_id)
    return job.status


def list_exports(
    *, session: Session, actor: Actor, limit: int = 50, now: datetime | None = None
) -> list[ExportListItem]:
    """The actor's own exports, newest first."""
    actor.require(PROFILES_EXPORT)
    if actor.user_id is None:
        raise NotSignedIn()
    now = now or utcnow()
    jobs = session.exec(
        select(ExportJob)
        .where(ExportJob.created_by == actor.user_id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
        .limit(limit)
    ).all()
    items = []
    for job in jobs:
        expired = job.expires_at is not None and job.expires_at <= now
        ready = job.status == STATUS_COMPLETED and not expired and bool(job.file_path)
        items.append(
            ExportListItem(
                id=job.id,
                status=job.status,
                format=job.format,
                fields_mode=job.fields_mode,
                row_count=job.row_count,
                created_at=job.created_at,
                finished_at=job.finished_at,
                expires_at=job.expires_at,
                expired=expired,
                download_url=export_download_url(job.id) if ready else None,
                file_name=Path(job.file_path).name if job.file_path else None,
                error=job.error,
            )
        )
    return items


def delete_expired_export_files(*, session: Session, now: datetime | None = None) -> int:
    """Remove the files of exports whose link has expired (the rows stay for the list)."""
    now = now or utcnow()
    jobs = session.exec(select(ExportJob).where(ExportJob.expires_at <= now, ExportJob.file_path.is_not(None))).all()
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
def export_profiles_csv(
    *, session: Session, actor: Actor, out_path: str | Path, chunk_rows: int = EXPORT_CHUNK_ROWS
) -> int:
    """`profile-ui export-profiles`: every active profile to CSV, headers are keys (stable
    for scripts): id, one column per identity kind the actor may export, system fields,
    custom attributes, created_at, updated_at. Returns how many profiles it holds."""
    actor.require(PROFILES_EXPORT)
    keys = all_column_keys(session=session)
    wanted = [
        k for k in keys if not k.startswith(TAG_PREFIX) and k not in (SEGMENTS_COLUMN, GROUPS_COLUMN, "initial_source")
    ]
    flt = ProfileFilter(status=STATUS_ACTIVE)
    planned, left_out = plan_columns(session=session, actor=actor, fields_mode="displayed", columns=wanted)
    keyed = [
        ExportColumn(c.key, c.ref if c.source == "identity" else c.key, c.source, c.ref, c.value_type) for c in planned
    ]
    total = write_profiles_file(
        session=session, flt=flt, columns=keyed, fmt="csv", out_path=out_path, chunk_rows=chunk_rows, bom=False
    )
    record_export(
        session=session,
        actor=actor,
        flt=flt,
        fields_mode="all",
        fmt="csv",
        columns=keyed,
        left_out=left_out,
        row_count=total,
        file_name=Path(out_path).name,
    )
    return total


# ---------------------------------------------------------------- audit log as CSV
AUDIT_CSV_HEADERS = ("At (UTC)", "Actor", "Action", "Object type", "Object", "Reason", "Details")


def export_audit_csv(
    *,
    session: Session,
    actor: Actor,
    out: Path | str | IO[bytes],
    actor_email: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk_rows: int = 10_000,
) -> int:
    """The audit events matching the filters of `audit.list_events`, newest first, as CSV
    (streamed in chunks; formula-looking cells neutralized). Returns the number of events.
    The export itself is an audit event too."""
    actor.require(AUDIT_VIEW)
    conditions = event_conditions(
        actor_email=actor_email, action=action, object_type=object_type, object_id=object_id, since=since, until=until
    )
    a = AuditEvent.__table__.c
    own = isinstance(out, (str, Path))
    if own:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        handle: IO[bytes] = Path(out).open("wb")  # noqa: SIM115 (closed in the finally below)
    else:
        handle = out  # the caller's stream: the caller closes it
    total, last = 0, None
    try:
        sink = CsvSink(handle, list(AUDIT_CSV_HEADERS), bom=True)
        schema = {
            "at": pl.String(),
            "actor": pl.String(),
            "action": pl.String(),
            "object_type": pl.String(),
            "object_id": pl.String(),
            "reason": pl.String(),
            "details": pl.String(),
        }
        while True:
            query = sa.select(
                a.id, a.at, a.actor_email, a.action, a.object_type, a.object_id, a.reason, sa.cast(a.details, sa.Text)
            ).where(*conditions)
            if last is not None:
                query = query.where(a.id < last)
            rows = session.connection().execute(query.order_by(a.id.desc()).limit(chunk_rows)).all()
            frame = text_frame([(r[1].strftime(DATETIME_FORMAT), *r[2:]) for r in rows], schema)
            if rows or total == 0:
                sink.write(frame)
            total += len(rows)
            if len(rows) < chunk_rows:
                break
            last = rows[-1][0]
    finally:
        if own:
            handle.close()
    record_event(
        session=session,
        actor=actor,
        action="audit.export",
        object_type="audit",
        details={
            "events": total,
            "filters": {
                "actor": actor_email,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        },
    )
    return total
