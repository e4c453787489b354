"""Uploaded files, saved privately under DATA_DIR.

Reflex's own upload endpoint would also serve everything in its upload folder back over
GET /_upload/<name>. We never use that folder: the upload event handler streams each
file into `save_upload`, which writes under `settings.upload_dir` with a random name
(0600 in a 0700 folder, encrypted when encryption is configured: services/file_store.py).
web/upload_guard.py stands in front of /_upload: it answers GET with 404, refuses bodies over
the limit (MAX_FILES_PER_UPLOAD files at the file limit) with 413 before reading them, and
refuses a POST without a signed-in user allowed to import (401/403). The wizard checks each
file's size in the browser first and turns any of these answers into a message naming the
files (pages/imports/upload_zone.py). Each user may keep at most
`settings.upload_max_pending` uploads that no import uses yet.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from ..models import ImportJob
from ..settings import get_settings
from . import file_store
from .importing import limits
from .permissions import PROFILES_IMPORT, Actor

# file types the import pipeline reads (calamine for Excel, polars for text)
ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsb", ".ods")
# files one upload (one request) may carry; the browser refuses more before sending
MAX_FILES_PER_UPLOAD = 10
# room for the multipart headers and boundaries around the file bytes of one request
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATH = "/_upload"


class UploadError(ValueError):
    """A refused upload; the message names the file and is safe to show."""


def type_refused(file_name: str) -> str:
    return f"{file_name}: this file type cannot be imported (use {', '.join(ALLOWED_SUFFIXES)})"


def _owner_prefix(actor: Actor) -> str:
    return f"u{actor.user_id or 0}-"


def pending_uploads(
    *, session: Session, actor: Actor, upload_dir: Path | None = None, now: float | None = None
) -> list[Path]:
    """The actor's uploads that no import uses (yet), those still being written included.
    Ones older than UPLOAD_ABANDONED_HOURS were abandoned (the purge's rule, services/retention.py):
    they are deleted, not counted."""
    folder = upload_dir or get_settings().upload_dir
    mine = [p for p in folder.glob(_owner_prefix(actor) + "*") if p.is_file()] if folder.is_dir() else []
    if not mine:
        return []
    used = set(
        session.exec(select(ImportJob.stored_path).where(col(ImportJob.stored_path).in_([str(p) for p in mine]))).all()
    )
    cutoff = (now or time.time()) - get_settings().upload_abandoned_hours * 3600
    pending = []
    for path in (p for p in mine if str(p) not in used):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                continue
        except FileNotFoundError:  # removed meanwhile (the user took it off the list)
            continue
        pending.append(path)
    return pending


def save_upload(
    *,
    session: Session,
    actor: Actor,
    file_name: str,
    data_chunks: Iterable[bytes],
    max_bytes: int | None = None,
    upload_dir: Path | None = None,
) -> Path:
    """Write one uploaded file into the private upload folder under a random name.

    Needs `profiles.import`. Refuses file types the importer cannot read, files over
    `max_bytes` (default: settings.upload_max_bytes), and a new file while the actor
    already has settings.upload_max_pending uploads that no import uses; a refused file
    leaves nothing behind. Returns the path of the saved file.
    """
    actor.require(PROFILES_IMPORT)
    settings = get_settings()
    limit = settings.upload_max_bytes if max_bytes is None else max_bytes
    shown_name = Path(file_name or "upload").name  # never trust a client's folder part
    suffix = Path(shown_name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(type_refused(shown_name))
    folder = file_store.private_dir(upload_dir or settings.upload_dir)
    pending = len(pending_uploads(session=session, actor=actor, upload_dir=folder))
    if pending >= settings.upload_max_pending:
        raise UploadError(
            f"{shown_name}: you have {pending} uploaded files that are not imported yet (the limit "
            f"is {settings.upload_max_pending}); import them or remove them from the list first"
        )
    # the owner in the name: pending_uploads counts each user's files
    target = folder / f"{_owner_prefix(actor)}{secrets.token_hex(16)}{suffix}"
    written = 0
    with file_store.replacing(target, exclusive=True) as out:  # a refused file leaves nothing
        chunks = iter(data_chunks)
        for chunk in chunks:
            written += len(chunk)
            if written > limit:
                # the rest is counted, not kept, so the message can give the real size
                # (the request it came in is itself capped by the upload guard)
                written += sum(len(rest) for rest in chunks)
                raise UploadError(f"{shown_name}: {limits.too_large(written, limit)}")
            out.write(chunk)
    return target


def request_body_limit() -> int:
    """The largest /_upload request body accepted: MAX_FILES_PER_UPLOAD files at the limit
    plus multipart framing (each file is held to the limit by save_upload)."""
    return (get_settings().upload_max_bytes + MULTIPART_OVERHEAD_BYTES) * MAX_FILES_PER_UPLOAD
