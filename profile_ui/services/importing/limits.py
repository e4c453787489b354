"""The import limits of the README (UPLOAD_MAX_BYTES, UPLOAD_MAX_ROWS, PASTE_MAX_ROWS) in
the words every entry point uses: the wizard (in the browser and on the server), the
upload endpoint and the CLI say the same thing, naming the file, its size or row count
and the limit, with thousands separators."""

from __future__ import annotations

MEGABYTE = 1024 * 1024


def size_text(size: int) -> str:
    """ "10.8 MB", "10 MB", "196 KB", "1,200 bytes"."""
    if size >= MEGABYTE:
        return f"{size / MEGABYTE:,.1f}".removesuffix(".0") + " MB"
    if size >= 100 * 1024:
        return f"{size / 1024:,.0f} KB"
    return f"{size:,} bytes"


def too_large(size: int, limit: int) -> str:
    """Why a file of `size` bytes is refused (the caller puts the file's name in front);
    in bytes when the rounded sizes would read the same ("10 MB; up to 10 MB")."""
    shown, allowed = size_text(size), size_text(limit)
    if shown == allowed:
        shown, allowed = f"{size:,} bytes", f"{limit:,} bytes"
    return f"the file is {shown}; files up to {allowed} can be imported"


def too_many_rows(count: int, limit: int) -> str:
    return f"it has {count:,} data rows; at most {limit:,} can be imported at once (split it into smaller files)"


def too_many_pasted_rows(count: int, limit: int) -> str:
    return f"{count:,} rows were pasted; at most {limit:,} can be pasted at once (import a file for more)"
