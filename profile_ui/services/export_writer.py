"""Writing an export file: profiles read in keyset chunks with bulk SQL, assembled into
polars frames, streamed into a CSV, zip-of-CSV or xlsx sink of services/sheet_writer.py
(memory flat with size; no cell runs as a formula).

`write_profiles_file` is the entry point; what to export (columns, permissions, audit)
is decided in services/exporting.py, which calls it.

Streaming: profiles are read in keyset-paginated chunks (by id) with bulk SQL, each chunk
becomes a polars frame (identities, tags, segments and groups joined in by one grouped
query each, values joined by the database) and is appended to the file, so memory stays
flat whatever the size. xlsx is written by `sheet_writer.XlsxSink` (sheet XML built
column-wise by polars): xlsxwriter's per-cell calls cost ~12 µs a cell, 50,000 profiles x
21 columns took ~14 s of CPU. An xlsx sheet holds 1,048,575 data rows; bigger exports
continue on further sheets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlmodel import Session

from . import file_store
from .export_chunks import ChunkReader
from .export_format import (
    EXPORT_CHUNK_ROWS,
    EXPORT_FORMATS,
    ExportColumn,
    ExportError,
)
from .profiles import ProfileFilter
from .sheet_writer import CsvSink, XlsxSink, ZipSink


def _open_sink(fmt: str, path: Path, columns: list[ExportColumn], *, bom: bool, at_rest: bool) -> Any:
    headers = [c.header for c in columns]
    # a private file; encrypted (an unseekable stream zipfile writes with data descriptors)
    # when it stays under DATA_DIR and encryption is configured
    out = file_store.open_private(path, encrypt=None if at_rest else False)
    try:
        if fmt == "csv":
            return CsvSink(out, headers, bom=bom)
        if fmt == "zip":
            inner = Path(path.name.lstrip(".")).with_suffix("").with_suffix(".csv").name
            return ZipSink(out, inner, headers, bom=bom)
        return XlsxSink(
            out,
            headers,
            sheet_name="Profiles",
            number_columns=[i for i, c in enumerate(columns) if c.value_type == "number"],
        )
    except BaseException:
        out.close()
        raise


def write_profiles_file(
    *,
    session: Session,
    flt: ProfileFilter,
    columns: list[ExportColumn],
    fmt: str,
    out_path: Path | str,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
    bom: bool = True,
    at_rest: bool = False,
) -> int:
    """Stream the matching profiles into `out_path`; returns how many rows it holds.

    The file is private (0600). `at_rest`: it stays under DATA_DIR until it is downloaded
    (an export's file), so it is encrypted when encryption is configured; read it back
    with file_store.iter_plain. A file for the user's own path (the CLI) is plain.

    No permission check and no audit event: callers (export_to_file, export_profiles,
    the export job) do both. The file appears complete or not at all (written beside it
    under a temporary name, then renamed).
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format '{fmt}' (expected csv, xlsx or zip)")
    if not columns:
        raise ExportError("None of the chosen columns may be exported")
    out_path = Path(out_path)
    if at_rest:
        file_store.private_dir(out_path.parent)
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.part")
    total = 0
    try:
        sink = _open_sink(fmt, partial, columns, bom=bom, at_rest=at_rest)
        try:
            for chunk in ChunkReader(session, flt, columns, chunk_rows).chunks():
                sink.write(chunk)
                total += chunk.height
        finally:
            sink.close()
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return total
