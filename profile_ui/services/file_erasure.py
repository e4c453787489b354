"""A GDPR erasure reaches the customer files under DATA_DIR, not only the tables.

`erase_from_files` checks every file still kept in each place (uploads, cached sheets,
import error files, export files; services/retention.py says how long each lives) and
deletes each one that holds the person: a file of an import that wrote to the person's
profile, and any file whose content (decrypted in memory when it is stored encrypted)
mentions the person's e-mail, phone, name or another identifier. A file is deleted
rather than rewritten: uploads and cached sheets are the user's input as it came, error
files can be made again by importing again, an export by exporting again; an export
whose file went says so on /exports ("no longer available").

What counts as a mention (`PersonMarks`): the e-mail (any case), the full name (any case,
runs of spaces as one), the phone's national digits with any spacing or punctuation
("0901 234 567", "+84 90-123-4567"), other identifiers of 6 characters or more. Text is
searched as it is stored: CSV and other text, Arrow IPC (the cache keeps strings as
UTF-8), and every part of a zip (xlsx, zip of CSV), XML-escaped forms included. A false
match (another person with the same name) only deletes a file too many.

The result names, per place, how many files were checked and which were deleted (import
and export ids; never a file name, which may itself hold a name), for the erasure's
audit record.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import phonenumbers
import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import ExportJob, ImportJob, ImportRowResult
from ..settings import get_settings
from . import file_places, file_store

MIN_OTHER_ID_CHARS = 6
WINDOW_CHARS = 1 << 16
_ZIP_MAGIC = b"PK\x03\x04"
_PHONE_GAPS = re.compile(r"[\s().\-/]+")
_SPACES = re.compile(r"\s+")
ERASED_EXPORT_NOTE = "Its file was deleted by a GDPR erasure; export the list again"


@dataclass(frozen=True)
class PersonMarks:
    """What identifies the person in a file's text (see the module docstring)."""

    texts: tuple[str, ...]  # casefolded, spaces collapsed
    phone_digits: tuple[str, ...]  # national significant numbers

    @classmethod
    def of(cls, *, name: str | None, identities: Iterable[tuple[str, str]]) -> PersonMarks:
        texts: set[str] = set()
        phones: set[str] = set()
        if name and len(name.strip()) >= 3:
            texts.add(_SPACES.sub(" ", name.strip().casefold()))
        for kind, value in identities:
            if not value:
                continue
            if kind == "phone":
                phones.add(_national(value))
            elif kind == "email" or len(value) >= MIN_OTHER_ID_CHARS:
                texts.add(value.strip().casefold())
        for text in list(texts):
            texts.add(escape(text, {'"': "&quot;", "'": "&apos;"}))
        return cls(
            texts=tuple(sorted(t for t in texts if t)), phone_digits=tuple(sorted(p for p in phones if len(p) >= 6))
        )

    def found_in(self, chunks: Iterable[bytes]) -> bool:
        """Whether a stream of UTF-8 (or similar) bytes mentions the person."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        keep = max([len(t) for t in self.texts] + [4 * len(p) for p in self.phone_digits] + [1])
        tail = ""
        for chunk in chunks:
            window = tail + decoder.decode(chunk)
            if self._in_text(window):
                return True
            tail = window[-keep:]
        return self._in_text(tail + decoder.decode(b"", final=True))

    def _in_text(self, text: str) -> bool:
        folded = _SPACES.sub(" ", text.casefold())
        if any(t in folded for t in self.texts):
            return True
        if self.phone_digits:
            digits = _PHONE_GAPS.sub("", text)
            return any(p in digits for p in self.phone_digits)
        return False


def _national(value: str) -> str:
    try:
        return str(phonenumbers.parse(value, get_settings().default_phone_region).national_number)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", value).lstrip("0")


@dataclass
class PlaceChecked:
    """One place an erasure looked in."""

    place: str
    checked: int = 0
    deleted: int = 0
    ids: list[int] = field(default_factory=list)  # imports / exports whose files went

    def as_dict(self) -> dict[str, object]:
        return {
            "place": self.place,
            "files_checked": self.checked,
            "files_deleted": self.deleted,
            **({"of": sorted(set(self.ids))} if self.ids else {}),
        }


def _plain_chunks(path: Path) -> Iterator[bytes]:
    """The text to search: the file's plain bytes, or each part of a zip, unpacked."""
    with file_store.open_plain(path) as handle:
        head = handle.read(4)
        handle.seek(0)
        if head != _ZIP_MAGIC:
            yield from iter(lambda: handle.read(WINDOW_CHARS), b"")
            return
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                with archive.open(info) as part:
                    yield from iter(lambda: part.read(WINDOW_CHARS), b"")
                    yield b"\n"


def mentions(path: Path, marks: PersonMarks) -> bool:
    """Whether the stored file holds the person; a file that cannot be read counts as
    holding them (it cannot be shown not to)."""
    try:
        return marks.found_in(_plain_chunks(path))
    except (OSError, zipfile.BadZipFile, file_store.FileCryptoError, EOFError, ValueError):
        return True


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _jobs_of_profile(session: Session, profile_id: int) -> list[ImportJob]:
    ids = select(ImportRowResult.job_id).where(ImportRowResult.profile_id == profile_id).distinct()
    return list(session.exec(select(ImportJob).where(ImportJob.id.in_(ids))).all())


def _upload_job_ids(session: Session, names: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for start in range(0, len(names), 200):
        batch = names[start : start + 200]
        rows = session.execute(
            sa.select(ImportJob.id, ImportJob.stored_path).where(
                sa.or_(*[ImportJob.stored_path.endswith("/" + n) for n in batch])
            )
        ).all()
        for job_id, stored in rows:
            found.setdefault(Path(stored).name, []).append(job_id)
    return found


def erase_from_files(*, session: Session, profile_id: int, marks: PersonMarks) -> list[PlaceChecked]:
    """Delete every kept file that holds the person (see the module docstring); what each
    place held. Export rows whose file went are updated in the caller's transaction."""
    linked = _jobs_of_profile(session, profile_id)
    linked_uploads = {Path(j.stored_path).name for j in linked if file_places.in_upload_dir(j.stored_path)}
    linked_errors = {p.name: j.id for j in linked for p in file_places.error_file_paths(j)}

    uploads = PlaceChecked("uploads")
    cache = PlaceChecked("cached sheets")
    upload_files = [p for p in _files(file_places.upload_dir()) if not p.name.endswith(".part")]
    owners = _upload_job_ids(session, [p.name for p in upload_files])
    held = [p for p in upload_files if p.name in linked_uploads or mentions(p, marks)]
    uploads.checked = len(upload_files)
    purged = file_places.FilesPurged()
    for path in held:
        file_places.delete_upload(path, purged)
        uploads.ids.extend(owners.get(path.name, []))
    uploads.deleted = purged.uploads
    cache.deleted = purged.sheet_cache
    cache_files = _files(file_places.sheet_cache_dir())
    cache.checked = len(cache_files) + purged.sheet_cache
    for path in cache_files:
        if mentions(path, marks):
            path.unlink(missing_ok=True)
            cache.deleted += 1

    errors = PlaceChecked("import error files")
    error_files = _files(file_places.error_file_dir())
    errors.checked = len(error_files)
    for path in error_files:
        if path.name in linked_errors or mentions(path, marks):
            path.unlink(missing_ok=True)
            errors.deleted += 1
            match = re.match(r"^import-(\d+)-errors\.", path.name)
            if match:
                errors.ids.append(int(match.group(1)))

    exports = PlaceChecked("export files")
    by_path = {
        Path(job.file_path).resolve(): job
        for job in session.exec(select(ExportJob).where(ExportJob.file_path.is_not(None))).all()
    }
    root = get_settings().export_dir
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        if not path.is_file():
            continue
        exports.checked += 1
        if not mentions(path, marks):
            continue
        path.unlink(missing_ok=True)
        exports.deleted += 1
        job = by_path.get(path.resolve())
        if job is not None:  # /exports then says the file is no longer available
            job.file_path = None
            job.error = ERASED_EXPORT_NOTE
            session.add(job)
            exports.ids.append(job.id)
    return [uploads, cache, errors, exports]
