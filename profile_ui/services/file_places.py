"""Where the app keeps customer files outside the tables, and the small facts about them
that both the purge (services/retention.py) and erasure (services/file_erasure.py) use: the
folders, an import's error files and until when they are kept, the report of what was
removed, deleting an upload with its cached sheets. Knows no import service, so both of
those may import it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..models import ImportJob, utcnow
from ..settings import get_settings
from . import file_store


@dataclass
class FilesPurged:
    """What a purge removed, per place (file counts)."""

    uploads: int = 0
    sheet_cache: int = 0
    error_files: int = 0
    export_files: int = 0
    previews_cancelled: int = 0
    removed: list[str] = field(default_factory=list)  # paths, for the log

    def summary(self) -> str:
        return (
            f"{self.uploads} uploads, {self.sheet_cache} cached sheets, {self.error_files} "
            f"import error files, {self.export_files} export files"
        )


# ---------------------------------------------------------------- places and times


def upload_dir() -> Path:
    return get_settings().upload_dir


def sheet_cache_dir() -> Path:
    return get_settings().data_dir / "cache" / "sheets"


def error_file_dir() -> Path:
    return get_settings().data_dir / "import-results"


def error_file_paths(job: ImportJob) -> list[Path]:
    """The .xlsx and .csv error files of an import (whether or not they exist)."""
    if not job.error_file_path:
        return []
    xlsx = Path(job.error_file_path)
    return [xlsx, xlsx.with_suffix(".csv")]


def error_file_expires_at(job: ImportJob) -> datetime | None:
    """Until when the error file of an ended import is kept (None while it runs)."""
    ended = job.finished_at
    if ended is None or not job.error_file_path:
        return None
    return ended + timedelta(hours=get_settings().import_error_file_hours)


def error_file_available(job: ImportJob, now: datetime | None = None) -> bool:
    expires = error_file_expires_at(job)
    if expires is not None and expires <= (now or utcnow()):
        return False
    return any(path.is_file() for path in error_file_paths(job))


def error_file_note(job: ImportJob, now: datetime | None = None) -> str:
    """What the import report says about the error file: until when it can be downloaded,
    or that it is gone ("" when the import made none, or has not ended)."""
    expires = error_file_expires_at(job)
    if expires is None:
        return ""
    hours = get_settings().import_error_file_hours
    if error_file_available(job, now):
        return (
            f"The error file can be downloaded until {expires:%Y-%m-%d %H:%M} UTC; "
            f"then it is deleted (error files are kept {hours} hours)."
        )
    if expires <= (now or utcnow()):
        return (
            f"The error file was deleted on {expires:%Y-%m-%d %H:%M} UTC (error files are kept "
            f"{hours} hours); import the file again to get a new one."
        )
    return "The error file was deleted (a GDPR erasure removed it); import the file again to get a new one."


def in_upload_dir(path: str | Path | None) -> bool:
    """Whether an import's stored file is an upload (the CLI imports the user's own file)."""
    if not path:
        return False
    with contextlib.suppress(OSError, ValueError):
        return Path(path).resolve().parent == upload_dir().resolve()
    return False


def _timestamp(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _mtime(path: Path) -> float:
    """When a file was last written; +inf when it is gone (another purge removed it)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from (p for p in folder.iterdir() if p.is_file())


def _unlink(path: Path, report: FilesPurged) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    report.removed.append(str(path))
    return True


def content_digest_of(path: Path) -> str | None:
    """SHA-256 of a stored file's plain content (read_workbook.content_digest of its bytes)."""
    digest = hashlib.sha256()
    try:
        for chunk in file_store.iter_plain(path):
            digest.update(chunk)
    except (OSError, file_store.FileCryptoError):
        return None
    return digest.hexdigest()


def remove_sheet_cache_of(paths: Iterable[Path], report: FilesPurged | None = None) -> int:
    """Drop the cached sheets of these uploads (by their content); how many files went."""
    report = report or FilesPurged()
    digests = {d for d in (content_digest_of(p) for p in paths) if d}
    removed = 0
    for entry in _files(sheet_cache_dir()):
        if entry.name.split("-", 1)[0] in digests and _unlink(entry, report):
            removed += 1
    report.sheet_cache += removed
    return removed


def delete_upload(path: Path, report: FilesPurged | None = None) -> bool:
    """Delete one upload and the cached sheets of its content."""
    report = report or FilesPurged()
    remove_sheet_cache_of([path], report)
    if _unlink(path, report):
        report.uploads += 1
        return True
    return False
