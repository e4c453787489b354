"""How long customer files under DATA_DIR live, by purpose; `purge_files` enforces it.

| place                         | kept                                                      |
|-------------------------------|-----------------------------------------------------------|
| uploads/                      | while an import of it may still run; deleted once every   |
|                               | import of it has completed, failed or been undone; after  |
|                               | a cancel (the wizard's Back) and when no import names it  |
|                               | (a wizard never confirmed) for UPLOAD_ABANDONED_HOURS; a  |
|                               | preview never confirmed within that time is cancelled     |
| cache/sheets/                 | never longer than an upload with the same content (and at |
|                               | most read_workbook.PARSED_SHEET_CACHE_HOURS)              |
| import-results/               | IMPORT_ERROR_FILE_HOURS after the import ended            |
| exports/                      | until the download link expires (EXPORT_LINK_HOURS)       |

Files written before this module existed follow the same rules (an old upload with a
finished import goes at the first purge; an error or export file without a row goes too),
and every file and folder the purge keeps is made private (0600 / 0700).

The upload files of imports run from the command line are the user's own files outside
DATA_DIR: never touched. Nothing here checks permissions: the purge job runs it as the
system; `purge_files` takes the session of the caller's transaction.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import ExportJob, ImportJob, utcnow
from ..settings import get_settings
from . import file_store
from .audit import record_event
from .exporting import delete_expired_export_files
from .file_places import (
    FilesPurged,
    _files,
    _mtime,
    _timestamp,
    _unlink,
    content_digest_of,
    delete_upload,
    error_file_available,
    error_file_dir,
    error_file_expires_at,
    error_file_note,
    in_upload_dir,
    sheet_cache_dir,
    upload_dir,
)
from .importing.jobs import (
    AWAITING_CONFIRMATION,
    CANCELLED,
    FINAL_STATUSES,
    ImportJobError,
    get_import,
    require_manager,
)
from .importing.jobs import error_file_download as _audited_error_file
from .importing.read_workbook import PARSED_SHEET_CACHE_HOURS
from .permissions import SETTINGS_MANAGE, SYSTEM_ACTOR, Actor

log = logging.getLogger(__name__)

PARTIAL_FILE_HOURS = 24  # a ".part" left by a crashed writer
_ERROR_FILE = re.compile(r"^import-(\d+)-errors\.(xlsx|csv)$")
_QUERY_BATCH = 200


def error_file_download(*, session: Session, actor: Actor, job_id: int) -> tuple[bytes, str]:
    """The plain CSV error file of an import and the name to download it as, for its owner or
    an admin (importing.jobs.error_file_download checks and audits it); refused in the
    report's words once the file's time is over or an erasure removed it."""
    job = get_import(session=session, actor=actor, job_id=job_id)
    require_manager(actor, job)
    if job.error_file_path and not error_file_available(job):
        raise ImportJobError(error_file_note(job) or "The error file is gone; import the file again")
    path, name = _audited_error_file(session=session, actor=actor, job_id=job_id)
    return file_store.read_bytes(path), name


# ---------------------------------------------------------------- the purge


def _jobs_naming(session: Session, names: list[str]) -> dict[str, list[ImportJob]]:
    """Upload file name -> the import jobs that name it as their stored file."""
    found: dict[str, list[ImportJob]] = {name: [] for name in names}
    for start in range(0, len(names), _QUERY_BATCH):
        batch = names[start : start + _QUERY_BATCH]
        jobs = session.exec(
            select(ImportJob).where(sa.or_(*[ImportJob.stored_path.endswith("/" + name) for name in batch]))
        ).all()
        for job in jobs:
            if in_upload_dir(job.stored_path):
                found.setdefault(Path(job.stored_path).name, []).append(job)
    return found


def _cancel_stale_preview(session: Session, actor: Actor, job: ImportJob, hours: int) -> None:
    job.status = CANCELLED
    job.finished_at = utcnow()
    session.add(job)
    record_event(
        session=session,
        actor=actor,
        action="import.cancel",
        object_type="import",
        object_id=job.id,
        details={"file": job.file_name, "was": AWAITING_CONFIRMATION, "why": f"not confirmed within {hours} hours"},
    )


def _purge_uploads(session: Session, actor: Actor, now: datetime, report: FilesPurged) -> None:
    hours = get_settings().upload_abandoned_hours
    window = timedelta(hours=hours)
    files = [p for p in _files(upload_dir()) if not p.name.endswith(".part")]
    jobs_by_name = _jobs_naming(session, [p.name for p in files])
    for path in files:
        jobs = jobs_by_name.get(path.name, [])
        for job in jobs:  # a preview nobody confirmed: the wizard was left
            if job.status == AWAITING_CONFIRMATION and (job.finished_at or job.created_at) + window <= now:
                _cancel_stale_preview(session, actor, job, hours)
                report.previews_cancelled += 1
        if any(job.status not in FINAL_STATUSES for job in jobs):
            continue  # an import of it may still run
        if jobs:
            # a cancel may be the wizard's Back: the same file is submitted again
            last_cancel = max((j.finished_at or j.created_at for j in jobs if j.status == CANCELLED), default=None)
            if last_cancel is None or last_cancel + window <= now:
                delete_upload(path, report)
            continue
        if _mtime(path) + window.total_seconds() <= _timestamp(now):
            delete_upload(path, report)  # uploaded in a wizard that was never submitted
    cutoff = time.time() - PARTIAL_FILE_HOURS * 3600
    for path in _files(upload_dir()):
        if path.name.endswith(".part") and _mtime(path) < cutoff:
            _unlink(path, report)


def _purge_sheet_cache(report: FilesPurged) -> None:
    """Entries no upload holds the content of (their upload is gone, or it was the user's
    own file of a command-line import, which has ended by now), and old ones."""
    entries = list(_files(sheet_cache_dir()))
    if not entries:
        return
    live = {d for d in (content_digest_of(p) for p in _files(upload_dir())) if d}
    cutoff = time.time() - PARSED_SHEET_CACHE_HOURS * 3600
    for entry in entries:
        if (entry.name.split("-", 1)[0] not in live or _mtime(entry) < cutoff) and _unlink(entry, report):
            report.sheet_cache += 1


def _purge_error_files(session: Session, now: datetime, report: FilesPurged) -> None:
    files = list(_files(error_file_dir()))
    ids = sorted({int(m.group(1)) for m in (_ERROR_FILE.match(p.name) for p in files) if m})
    jobs: dict[int, ImportJob] = {}
    for start in range(0, len(ids), _QUERY_BATCH):
        jobs.update(
            {
                j.id: j
                for j in session.exec(
                    select(ImportJob).where(ImportJob.id.in_(ids[start : start + _QUERY_BATCH]))
                ).all()
            }
        )
    hours = get_settings().import_error_file_hours
    for path in files:
        match = _ERROR_FILE.match(path.name)
        job = jobs.get(int(match.group(1))) if match else None
        if job is None:  # no import names it (a partial write, a file older than its row)
            expired = _mtime(path) + hours * 3600 <= _timestamp(now)
        else:
            expires = error_file_expires_at(job)
            expired = expires is not None and expires <= now
        if expired and _unlink(path, report):
            report.error_files += 1


def _purge_export_files(session: Session, now: datetime, report: FilesPurged) -> None:
    report.export_files += delete_expired_export_files(session=session, now=now)
    root = get_settings().export_dir
    if not root.is_dir():
        return
    live = {
        Path(p).resolve()
        for (p,) in session.execute(sa.select(ExportJob.file_path).where(ExportJob.file_path.is_not(None))).all()
    }
    running = {
        str(i)
        for (i,) in session.execute(sa.select(ExportJob.id).where(ExportJob.status.in_(("queued", "running")))).all()
    }
    for folder in (p for p in root.iterdir() if p.is_dir() and p.name not in running):
        for path in _files(folder):
            if path.resolve() not in live and _unlink(path, report):
                report.export_files += 1  # a file no export row names (older than its row)
        with contextlib.suppress(OSError):
            if not any(folder.iterdir()):
                folder.rmdir()


def _make_private(report: FilesPurged) -> None:
    """Files written before files were private: 0600 in 0700 folders."""
    settings = get_settings()
    for root in (upload_dir(), sheet_cache_dir(), error_file_dir(), settings.export_dir):
        if not root.is_dir():
            continue
        file_store.private_dir(root)
        for folder, dirs, names in os.walk(root):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(folder, name), file_store.DIR_MODE)
            for name in names:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(folder, name), file_store.FILE_MODE)
    with contextlib.suppress(OSError):
        file_store.private_dir(settings.data_dir / "cache")


@dataclass
class FilesRekeyed:
    rewritten: int = 0
    unchanged: int = 0
    unreadable: int = 0  # written with a key no longer configured, or damaged


def customer_files() -> Iterator[Path]:
    """Every customer file kept under DATA_DIR (each place of the module docstring)."""
    for folder in (upload_dir(), sheet_cache_dir(), error_file_dir()):
        yield from (p for p in _files(folder) if not p.name.endswith(".part"))
    root = get_settings().export_dir
    if root.is_dir():
        yield from (p for p in sorted(root.glob("*/*")) if p.is_file() and not p.name.startswith("."))


def rekey_files(*, session: Session, actor: Actor) -> FilesRekeyed:
    """Rewrite every kept customer file as the settings say: encrypted under the current
    key (plain files written before encryption was on too), or plain when encryption is
    off. `profile-ui identities rekey` runs it after the identities. A file no configured
    key opens is counted and left. Audited in the caller's transaction; needs
    settings.manage."""
    actor.require(SETTINGS_MANAGE)
    done = FilesRekeyed()
    for path in list(customer_files()):
        try:
            if file_store.reencrypt_file(path):
                done.rewritten += 1
            else:
                done.unchanged += 1
        except file_store.FileCryptoError:
            done.unreadable += 1
        except FileNotFoundError:  # removed meanwhile (the purge, an erasure)
            continue
    record_event(
        session=session,
        actor=actor,
        action="files.rekey",
        object_type="files",
        details={
            "rewritten": done.rewritten,
            "unchanged": done.unchanged,
            "unreadable": done.unreadable,
            "encrypted": file_store.files_encrypted(),
        },
    )
    return done


def purge_files(*, session: Session, actor: Actor = SYSTEM_ACTOR, now: datetime | None = None) -> FilesPurged:
    """Remove every customer file past its time (see the module docstring); what went.
    Database changes (cancelled previews, export rows without their file) are made in
    the caller's transaction."""
    now = now or utcnow()
    report = FilesPurged()
    _purge_uploads(session, actor, now, report)
    _purge_sheet_cache(report)
    _purge_error_files(session, now, report)
    _purge_export_files(session, now, report)
    _make_private(report)
    return report
