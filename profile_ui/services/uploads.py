"""Uploaded files, saved privately under DATA_DIR.

Reflex's own upload endpoint would also serve everything in its upload folder back over
GET /_upload/<name>. We never use that folder: the upload event handler streams each
file into `save_upload`, which writes under `settings.upload_dir` with a random name.
web/upload_guard.py stands in front of /_upload (limits, who may upload).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from ..settings import get_settings
from .permissions import PROFILES_IMPORT, Actor

# file types the import pipeline reads (calamine for Excel, polars for text)
ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
# room for the multipart headers and boundaries around the file bytes of one request
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATH = "/_upload"


class UploadError(ValueError):
    """A refused upload; the message names the file and is safe to show."""


def size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def save_upload(
    *,
    actor: Actor,
    file_name: str,
    data_chunks: Iterable[bytes],
    max_bytes: int | None = None,
    upload_dir: Path | None = None,
) -> Path:
    """Write one uploaded file into the private upload folder under a random name.

    Needs `profiles.import`. Refuses file types the importer cannot read and files over
    `max_bytes` (default: settings.upload_max_bytes); a refused file leaves nothing behind.
    Returns the path of the saved file.
    """
    actor.require(PROFILES_IMPORT)
    settings = get_settings()
    limit = settings.upload_max_bytes if max_bytes is None else max_bytes
    shown_name = Path(file_name or "upload").name  # never trust a client's folder part
    suffix = Path(shown_name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(
            f"{shown_name}: this file type cannot be imported "
            f"(use {', '.join(ALLOWED_SUFFIXES)})")
    folder = upload_dir or settings.upload_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{secrets.token_hex(16)}{suffix}"
    partial = target.with_name(target.name + ".part")
    written = 0
    try:
        with open(partial, "xb") as out:
            for chunk in data_chunks:
                written += len(chunk)
                if written > limit:
                    raise UploadError(
                        f"{shown_name} is larger than the upload limit of {size_text(limit)}")
                out.write(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def request_body_limit() -> int:
    """The largest /_upload request body accepted: one file at the limit plus multipart framing."""
    return get_settings().upload_max_bytes + MULTIPART_OVERHEAD_BYTES
