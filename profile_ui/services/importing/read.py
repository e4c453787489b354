"""Reading an upload (.xlsx, .xls, .xlsb, .ods, .csv) or pasted cells into `SheetData`:
every value as text.

Nothing is type-guessed: a column of numbers with a word at row 201, "0049151", zip
"01234", a 20-digit id and Vietnamese, Chinese or Arabic text all arrive exactly as the
user sees them in the sheet. Fields are converted per column after mapping (normalize.py).
Excel-only conversions, so the text matches what the sheet shows: whole numbers print as
"123" (calamine hands back floats), date cells as ISO "YYYY-MM-DD" / "YYYY-MM-DDTHH:MM:SS",
error cells (#N/A, #DIV/0!...) are empty and listed in `SheetData.cell_errors`, formulas
give their cached value. A date typed as a number (an Excel serial without a date format)
stays the number the user sees; the date normalizer reads serials. A leading ' that the
app's CSV files put before a formula-like cell (services/sheet_writer.py) is taken off.

A file that is not what it claims, or that is hostile, is refused whole with
`FileRejected(file_name, reason)` before anything is parsed, in bounded time and memory:
extension against magic bytes (renamed files, encrypted workbooks, which are OLE
containers), empty files, size and row limits from settings, zip bombs (total unpacked
size and compression ratio from the zip directory), XML entity bombs (defusedxml for the
workbook part here; sandbox.py refuses any DTD in the parts calamine reads), and cells far
beyond any real sheet. Workbook sheets are parsed in a child process (sandbox.py) capped by
RLIMIT_AS and a timeout, because calamine aborts the whole process on some files; a child
that dies is reported as "could not be read". Legacy .xls (OLE), binary .xlsb and
OpenDocument .ods go through the same child with the same limits (the child also lists
their sheets, which only calamine can read); a far-away cell in them is stopped by the
child's memory cap rather than found beforehand. CSV and pasted text are plain text of at
most the upload limit and are parsed here with polars.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from ...settings import get_settings
from .. import file_store
from . import ERRORS_COL, ROW_COL, VALID_COL, limits, sandbox

log = logging.getLogger(__name__)

PASTED_FILE_NAME = "Pasted cells"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
# other workbooks calamine reads in the child: (format, how the file must start)
BOOK_SUFFIXES = {".xls": "xls", ".xlsb": "xlsb", ".ods": "ods"}
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")

# the child that parses an xlsx sheet: 50,000 x 20 needs ~0.5 GB; 2 GB leaves room and
# still stops a runaway allocation long before it hurts the machine
CHILD_MEMORY_BYTES = 2 * 1024**3
CHILD_TIMEOUT_SECONDS = 60
# the module the child runs (`python -m`); a test swaps in one that really hangs
CHILD_MODULE = sandbox.__name__
# how long the grid of a parsed sheet is kept for the next read of the same file
PARSED_SHEET_CACHE_HOURS = 24
# zip bombs: an 8 MB sheet of 50,000 x 20 unpacks to ~50 MB at a ratio of ~10
MAX_UNPACKED_BYTES = 256 * 1024**2
MAX_COMPRESSION_RATIO = 100
RATIO_CHECKED_FROM_BYTES = 16 * 1024**2  # smaller parts cannot hurt at any ratio
MAX_ZIP_ENTRIES = 2_000
MAX_WORKBOOK_PART_BYTES = 4 * 1024**2
MAX_COLUMNS = 702  # A..ZZ: far beyond any profile sheet, and a cheap check in sandbox.py
MAX_CELL_ERRORS_LISTED = sandbox.MAX_ERROR_CELLS_LISTED
SAMPLE_CHARS = 64 * 1024
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OTHER_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\x1f\x8b": "a gzip archive",
    b"{\\rtf": "an RTF document",
}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)
_WORKSHEET_REL = "/worksheet"
_SEP_LINE = re.compile(r"sep=(.)\r?\n")


@dataclass
class SheetData:
    """One sheet (or pasted block) as text: see the module docstring of importing."""

    file_name: str
    sheet: str | None
    headers: list[str]
    # ROW_COL (Int64, the row number the user sees) + one Utf8 column per header
    frame: pl.DataFrame
    # error cells (#N/A...) read as empty, in data rows: {"row", "column" (the header, or
    # "column H" when the grid's first column is unknown), "message"}; the first
    # MAX_CELL_ERRORS_LISTED in sheet order
    cell_errors: list[dict[str, Any]] = field(default_factory=list)


class FileRejected(Exception):
    """The whole file is refused; nothing from it is used."""

    def __init__(self, file_name: str, reason: str) -> None:
        super().__init__(file_name, reason)
        self.file_name = file_name
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.file_name}: {self.reason}"


@dataclass
class _SheetPart:
    name: str
    part: str  # path of the sheet XML inside the zip
    visible: bool


@dataclass
class _Workbook:
    sheets: list[_SheetPart]
    parts: list[str]  # XML parts calamine reads besides the sheet (checked for DTDs)
    kind: str = "xlsx"  # or a value of BOOK_SUFFIXES


# the XML an .ods holds (checked for DTDs in the child before calamine reads it)
_ODS_PARTS = ["content.xml", "styles.xml", "meta.xml", "settings.xml", "META-INF/manifest.xml"]
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


# ---------------------------------------------------------------------------- public


def list_sheets(path: Path | str, *, file_name: str) -> list[str]:
    """The sheets a user can pick from (visible worksheets); [] for a text file."""
    path = Path(path)
    suffix = _suffix(file_name, path)
    data = _load(path, file_name)
    _check_file(data, file_name, suffix)
    if suffix in BOOK_SUFFIXES:
        return [sheet.name for sheet in _pickable(_open_other_book(data, file_name, suffix).sheets)]
    if suffix not in XLSX_SUFFIXES:
        return []
    return [sheet.name for sheet in _pickable(_open_workbook(data, file_name).sheets)]


def read_upload(path: Path | str, *, file_name: str, sheet: str | None = None) -> SheetData:
    """Read an uploaded workbook or text file; a workbook with several sheets needs `sheet`."""
    path = Path(path)
    suffix = _suffix(file_name, path)
    data = _load(path, file_name)
    _check_file(data, file_name, suffix)
    if suffix in BOOK_SUFFIXES:
        book = _open_other_book(data, file_name, suffix)
        chosen = _choose_sheet(book, file_name, sheet)
        return _read_xlsx(data, file_name, book, chosen, check_extent=False)
    if suffix in XLSX_SUFFIXES:
        book = _open_workbook(data, file_name)
        chosen = _choose_sheet(book, file_name, sheet)
        return _read_xlsx(data, file_name, book, chosen)
    return _read_text_file(data, file_name, suffix)


def read_pasted(text: str, *, has_header: bool = False) -> SheetData:
    """Cells copied from a spreadsheet: tab-separated, mapped by position, or with their
    header row (`has_header`, the wizard's paste box); at most PASTE_MAX_ROWS data rows."""
    settings = get_settings()
    if len(text) > settings.upload_max_bytes:
        raise FileRejected(
            PASTED_FILE_NAME,
            f"the pasted text is over {limits.size_text(settings.upload_max_bytes)}; import it as a file instead",
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    grid = _parse_delimited(text, "\t", PASTED_FILE_NAME) if text.strip() else None
    if grid is None:
        raise FileRejected(PASTED_FILE_NAME, "nothing was pasted")
    return _sheet_data(
        PASTED_FILE_NAME,
        None,
        grid,
        first_row=1,
        has_header=has_header,
        max_rows=settings.paste_max_rows,
        too_many=limits.too_many_pasted_rows,
        empty_reason="nothing was pasted",
    )


# ------------------------------------------------------------------ file-level checks


def _suffix(file_name: str, path: Path) -> str:
    # the name the user gave is the claim we check; a stored copy may have a random name
    return (Path(file_name).suffix or path.suffix).lower()


def _load(path: Path, file_name: str) -> bytes:
    """The file's plain bytes, decrypted in memory when it is stored encrypted
    (services/file_store.py); a file far over the size limit is refused unread."""
    try:
        stored = path.stat().st_size
        limit = get_settings().upload_max_bytes
        if stored > file_store.stored_size(limit):
            raise FileRejected(file_name, limits.too_large(stored, limit))
        return file_store.read_bytes(path)
    except FileNotFoundError:
        raise FileRejected(file_name, "the file was not found") from None
    except file_store.FileCryptoError as exc:
        raise FileRejected(file_name, f"the stored file could not be decrypted ({exc})") from None
    except OSError as exc:
        raise FileRejected(file_name, f"the file could not be opened ({exc.strerror})") from None


def _check_file(data: bytes, file_name: str, suffix: str) -> None:
    """Type, size and magic bytes against the extension the user's file name claims."""
    settings = get_settings()
    size, head = len(data), data[:8192]
    if suffix not in (*XLSX_SUFFIXES, *BOOK_SUFFIXES, *TEXT_SUFFIXES):
        shown = suffix or "files without an extension"
        raise FileRejected(file_name, f"{shown} files cannot be imported; upload an .xlsx, .xls, .ods or .csv file")
    if size == 0:
        raise FileRejected(file_name, "the file is empty")
    if size > settings.upload_max_bytes:
        raise FileRejected(file_name, limits.too_large(size, settings.upload_max_bytes))
    if suffix in XLSX_SUFFIXES:
        _check_xlsx_magic(head, file_name, data)
    elif suffix in BOOK_SUFFIXES:
        _check_book_magic(head, file_name, BOOK_SUFFIXES[suffix])
    else:
        _check_text_magic(head, file_name, suffix)


def _check_book_magic(head: bytes, file_name: str, kind: str) -> None:
    """.xls is an OLE compound file; .xlsb and .ods are zip packages."""
    expected = _OLE_MAGIC if kind == "xls" else _ZIP_MAGIC
    if head.startswith(expected):
        return
    if kind == "xls" and head.startswith(_ZIP_MAGIC):
        raise FileRejected(file_name, "this is an .xlsx workbook named .xls; rename it to .xlsx and upload again")
    if kind != "xls" and head.startswith(_OLE_MAGIC):
        raise FileRejected(
            file_name,
            f"its content is an Excel 97-2003 (.xls) workbook, not .{kind} "
            "(was the file renamed?); rename it to .xls and upload again",
        )
    if _looks_like_markup(head):
        raise FileRejected(
            file_name,
            f"this is a web page (HTML/XML) saved with an .{kind} name, not a real "
            "workbook; open it in a spreadsheet program and save it as .xlsx or .csv",
        )
    kind_found = _other_kind(head)
    if kind_found:
        raise FileRejected(file_name, f"its content is {kind_found}, not a spreadsheet (was the file renamed?)")
    raise FileRejected(
        file_name, f"its content is plain text, not an .{kind} workbook: a CSV file renamed? Upload it with a .csv name"
    )


def _looks_like_markup(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<?xml", b"<html", b"<!doctype html", b"<table"))


def _check_xlsx_magic(head: bytes, file_name: str, data: bytes) -> None:
    if head.startswith(_ZIP_MAGIC):
        return
    if head.startswith(_OLE_MAGIC):
        raise FileRejected(file_name, _ole_reason(data))
    if _looks_like_markup(head):
        raise FileRejected(
            file_name,
            "its content is a web page or XML (HTML/XML), not an Excel workbook; open it in Excel and save it as .xlsx",
        )
    kind = _other_kind(head)
    if kind:
        raise FileRejected(file_name, f"its content is {kind}, not an Excel workbook (was the file renamed?)")
    raise FileRejected(
        file_name,
        "its content is plain text, not an Excel workbook: a CSV file renamed to .xlsx? Upload it with a .csv name",
    )


_ENCRYPTION_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))


def _ole_reason(data: bytes) -> str:
    """An OLE (compound file) container: an encrypted xlsx, or a legacy .xls renamed."""
    # Excel saves a password-protected .xlsx as an OLE container holding these streams
    if any(stream in data for stream in _ENCRYPTION_STREAMS):
        return (
            "the workbook is password-protected (encrypted); open it in Excel, remove the "
            "password (File > Info > Protect Workbook > Encrypt with Password), save and "
            "upload again"
        )
    return "this is a legacy Excel 97-2003 (.xls) workbook renamed to .xlsx; rename it to .xls and upload again"


def _other_kind(head: bytes) -> str | None:
    for magic, kind in _OTHER_MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _check_text_magic(head: bytes, file_name: str, suffix: str) -> None:
    if head.startswith(_ZIP_MAGIC):
        raise FileRejected(
            file_name,
            f"its content is an Excel workbook or a zip archive, not {suffix} "
            "text (was the file renamed?); upload the workbook as .xlsx",
        )
    if head.startswith(_OLE_MAGIC):
        raise FileRejected(
            file_name,
            f"its content is an Excel 97-2003 workbook, not {suffix} text (was "
            "the file renamed?); open it in Excel and save it as .csv or .xlsx",
        )
    kind = _other_kind(head)
    if kind:
        raise FileRejected(file_name, f"its content is {kind}, not {suffix} text (was the file renamed?)")


# ------------------------------------------------------------------------- workbooks


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _open_workbook(data: bytes, file_name: str) -> _Workbook:
    """Check the zip directory (sizes, ratio, encryption) and list the worksheets.

    Reads only the zip directory and the workbook part and its relationships, each capped
    at MAX_WORKBOOK_PART_BYTES and parsed with defusedxml; sheet data is never parsed here.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRejected(file_name, "the workbook is damaged: it is not a valid .xlsx (zip) package") from None
    with archive:
        infos = archive.infolist()
        _check_zip_directory(infos, file_name)
        names = {info.filename: info for info in infos}
        workbook_part = _workbook_part(archive, names, file_name)
        rels_part = str(PurePosixPath(workbook_part).parent / "_rels" / (PurePosixPath(workbook_part).name + ".rels"))
        workbook = _parse_part(archive, names, workbook_part, file_name)
        rels = _parse_part(archive, names, rels_part, file_name) if rels_part in names else None
    targets: dict[str, tuple[str, str]] = {}
    for rel in rels.iter() if rels is not None else ():
        if _local(rel.tag) == "Relationship":
            targets[rel.get("Id", "")] = (rel.get("Target", ""), rel.get("Type", ""))
    base = PurePosixPath(workbook_part).parent
    sheets: list[_SheetPart] = []
    for element in workbook.iter():
        if _local(element.tag) != "sheet":
            continue
        rel_id = next((value for key, value in element.attrib.items() if _local(key) == "id"), "")
        target, kind = targets.get(rel_id, ("", ""))
        if not kind.endswith(_WORKSHEET_REL):
            continue  # chart sheets, dialog and macro sheets hold no rows
        part = target.lstrip("/") if target.startswith("/") else _join_part(base, target)
        sheets.append(
            _SheetPart(name=element.get("name", ""), part=part, visible=element.get("state", "visible") == "visible")
        )
    parts = ["[Content_Types].xml", "_rels/.rels", workbook_part, rels_part]
    return _Workbook(sheets=sheets, parts=parts)


def _open_other_book(data: bytes, file_name: str, suffix: str) -> _Workbook:
    """An .xls/.xlsb/.ods: the zip checks for the packaged ones, then its sheets as the
    child lists them (calamine alone reads these formats)."""
    kind = BOOK_SUFFIXES[suffix]
    parts: list[str] = []
    if kind != "xls":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError):
            raise FileRejected(file_name, f"the workbook is damaged: it is not a valid .{kind} (zip) package") from None
        with archive:
            infos = archive.infolist()
            _check_zip_directory(infos, file_name)
            names = {info.filename for info in infos}
            if kind == "ods":
                mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
                if not mimetype.startswith(_ODS_MIMETYPE):
                    raise FileRejected(
                        file_name, "its content is not an OpenDocument spreadsheet (was the file renamed?)"
                    )
                parts = _ODS_PARTS
            elif "xl/workbook.bin" not in names:
                raise FileRejected(
                    file_name,
                    "its content is not a binary Excel workbook (.xlsb): it has no "
                    "xl/workbook.bin (was the file renamed?)",
                )
            else:
                parts = ["[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.bin.rels"]
    book = _Workbook(sheets=[], parts=parts, kind=kind)
    result, _ = _run_child(data, file_name, book, {"mode": "sheets"})
    book.sheets = [_SheetPart(name=s["name"], part="", visible=s.get("visible", True)) for s in result["sheets"]]
    return book


def _join_part(base: PurePosixPath, target: str) -> str:
    resolved: list[str] = []
    for piece in (base / target).parts:
        if piece == "..":
            if resolved:
                resolved.pop()
        elif piece not in ("", "."):
            resolved.append(piece)
    return "/".join(resolved)


def _check_zip_directory(infos: list[zipfile.ZipInfo], file_name: str) -> None:
    """Zip bombs and encrypted members, from the directory alone (nothing is unpacked)."""
    if len(infos) > MAX_ZIP_ENTRIES:
        raise FileRejected(
            file_name,
            f"the workbook package holds {len(infos):,} parts, far more than a "
            "spreadsheet has: it is not a workbook that can be imported",
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise FileRejected(
            file_name, "the workbook's package is password-protected (encrypted); remove the password and upload again"
        )
    unpacked = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileRejected(
            file_name,
            f"the workbook unpacks to {unpacked / (1024 * 1024):,.0f} MB, far more "
            f"than a {limits.size_text(get_settings().upload_max_bytes)} spreadsheet can hold: "
            "it looks like a zip bomb and was not opened",
        )
    for total, compressed in [(unpacked, packed)] + [(i.file_size, i.compress_size) for i in infos]:
        if total >= RATIO_CHECKED_FROM_BYTES and total > MAX_COMPRESSION_RATIO * max(compressed, 1):
            raise FileRejected(
                file_name,
                f"the workbook is compressed {total / max(compressed, 1):,.0f} "
                "times over, far more than any real spreadsheet: it looks like a "
                "zip bomb and was not opened",
            )


def _workbook_part(archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], file_name: str) -> str:
    part = None
    if "_rels/.rels" in names:
        root = _parse_part(archive, names, "_rels/.rels", file_name)
        for rel in root.iter():
            if _local(rel.tag) == "Relationship" and rel.get("Type", "").endswith("/officeDocument"):
                part = rel.get("Target", "").lstrip("/")
                break
    if part is None and "xl/workbook.xml" in names:
        part = "xl/workbook.xml"
    if part and part.lower().endswith(".bin"):
        raise FileRejected(
            file_name, "this is a binary Excel workbook (.xlsb) named .xlsx; rename it to .xlsb and upload again"
        )
    if part and part in names and part.startswith("xl/"):
        return part
    lowered = [name.lower() for name in names]
    if "mimetype" in names:
        kind = "an OpenDocument file (.ods/.odt)"
    elif any(name.startswith("word/") for name in lowered):
        kind = "a Word document"
    elif any(name.startswith("ppt/") for name in lowered):
        kind = "a PowerPoint presentation"
    else:
        kind = "a zip archive"
    raise FileRejected(file_name, f"its content is {kind}, not an Excel workbook (was the file renamed?)")


def _parse_part(archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], part: str, file_name: str) -> Any:
    info = names[part]
    if info.file_size > MAX_WORKBOOK_PART_BYTES:
        raise FileRejected(
            file_name,
            f"the workbook's part {part} is {info.file_size / (1024 * 1024):,.0f} MB, "
            "far more than a real workbook needs: it was not opened",
        )
    try:
        data = archive.read(info)
        return SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise FileRejected(
            file_name,
            f"its part {part} declares XML entities (a DTD), which workbooks saved "
            "by spreadsheet programs never do: it looks like an XML entity bomb",
        ) from None
    except (SafeElementTree.ParseError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise FileRejected(file_name, f"the workbook is damaged ({part}: {exc})") from None


def _pickable(sheets: list[_SheetPart]) -> list[_SheetPart]:
    visible = [sheet for sheet in sheets if sheet.visible]
    return visible or sheets


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _choose_sheet(book: _Workbook, file_name: str, sheet: str | None) -> _SheetPart:
    if not book.sheets:
        raise FileRejected(file_name, "the workbook has no worksheet with rows to import")
    pickable = _pickable(book.sheets)
    if sheet is None:
        if len(pickable) == 1:
            return pickable[0]
        raise FileRejected(
            file_name,
            f"the workbook has {len(pickable)} sheets ({_quoted([s.name for s in pickable])}); "
            "choose the sheet to import",
        )
    for candidate in book.sheets:
        if candidate.name == sheet:
            return candidate
    loose = [c for c in book.sheets if c.name.strip().casefold() == sheet.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    raise FileRejected(
        file_name, f'the workbook has no sheet named "{sheet}"; its sheets are {_quoted([s.name for s in pickable])}'
    )


def _read_xlsx(
    data: bytes, file_name: str, book: _Workbook, chosen: _SheetPart, *, check_extent: bool = True
) -> SheetData:
    settings = get_settings()
    grid, result = _parse_sheet(data, file_name, book, chosen, check_extent=check_extent)
    return _sheet_data(
        file_name,
        chosen.name,
        grid,
        first_row=1,
        has_header=True,
        max_rows=settings.upload_max_rows,
        too_many=limits.too_many_rows,
        error_cells=result.get("error_cells", []),
        first_column=result.get("first_column"),
        empty_reason=f'the sheet "{chosen.name}" is empty',
    )


def _parse_sheet(
    data: bytes, file_name: str, book: _Workbook, chosen: _SheetPart, *, check_extent: bool
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The sheet's grid: parsed in the child, or the grid a parse of the same bytes left.

    A file is read at least twice (the dry run, then the apply after Confirm) and the
    child costs 1-3 s a time for a 50,000-row sheet; the grid it wrote (our own output,
    already checked) is kept in the sheet cache (`sheet_cache_entry`), as private and as
    encrypted as the upload, and removed with the upload (services/retention.py).
    """
    settings = get_settings()
    grid_path = sheet_cache_entry(
        data, json.dumps([chosen.name, chosen.part, check_extent, settings.upload_max_rows, MAX_COLUMNS])
    )
    result_path = grid_path.with_suffix(".json")
    if grid_path.exists() and result_path.exists():
        try:
            return (
                pl.read_ipc(io.BytesIO(file_store.read_bytes(grid_path))),
                json.loads(file_store.read_bytes(result_path)),
            )
        except (OSError, ValueError, pl.exceptions.PolarsError):
            log.warning("cached sheet %s unreadable; parsing %s again", grid_path.name, file_name)
    grid, result = _parse_in_child(data, file_name, book, chosen, check_extent=check_extent)
    try:
        _prune_sheet_cache(file_store.private_dir(grid_path.parent))
        buffer = io.BytesIO()
        grid.write_ipc(buffer, compression="uncompressed")
        file_store.write_bytes(result_path, json.dumps(result).encode())
        file_store.write_bytes(grid_path, buffer.getvalue())  # the grid appears last
    except OSError as exc:  # a cache that cannot be written only costs time
        log.warning("could not keep the parsed sheet of %s: %s", file_name, exc)
    return grid, result


def sheet_cache_folder() -> Path:
    return get_settings().data_dir / "cache" / "sheets"


def content_digest(data: bytes) -> str:
    """What names a file's cache entries: SHA-256 of its plain bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


def sheet_cache_entry(data: bytes, params: str) -> Path:
    """DATA_DIR/cache/sheets/<content digest>-<digest of the read's parameters>.arrow: the
    content digest first, so the entries of one upload are found by its content."""
    return sheet_cache_folder() / (f"{content_digest(data)}-{hashlib.sha256(params.encode()).hexdigest()[:32]}.arrow")


def _prune_sheet_cache(folder: Path) -> None:
    if not folder.is_dir():
        return
    cutoff = time.time() - PARSED_SHEET_CACHE_HOURS * 3600
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                entry.unlink()


def _parse_in_child(
    data: bytes, file_name: str, book: _Workbook, chosen: _SheetPart, *, check_extent: bool
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Run sandbox.py on the sheet; its verdict, or "could not be read" if it died."""
    settings = get_settings()
    job: dict[str, Any] = {"mode": "read", "sheet": chosen.name, "check_extent": check_extent}
    if book.kind == "xlsx":
        sheet_rels = str(PurePosixPath(chosen.part).parent / "_rels" / (PurePosixPath(chosen.part).name + ".rels"))
        job.update(
            {
                "part": chosen.part,
                "parts": book.parts + ["xl/sharedStrings.xml", "xl/styles.xml", chosen.part, sheet_rels],
                # a valued cell this far down cannot belong to a sheet within the row limit
                "row_threshold": 10 ** len(str(settings.upload_max_rows + 1)),
                "max_columns": MAX_COLUMNS,
            }
        )
    result, grid_bytes = _run_child(data, file_name, book, job)
    # the grid comes back on stdout: parsed rows are never on disk in plain text
    grid = pl.read_ipc(io.BytesIO(grid_bytes))
    return grid, result


def _run_child(data: bytes, file_name: str, book: _Workbook, job: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Run sandbox.py on `job`, the workbook's plain bytes on its stdin (never written to
    disk); (the child's verdict, what it wrote on stdout: the grid as Arrow IPC), or
    FileRejected when it refused the file, stopped or ran out of time."""
    job = {
        "path": None,
        "format": book.kind,
        "parts": book.parts,
        "memory_bytes": CHILD_MEMORY_BYTES,
        "cpu_seconds": int(CHILD_TIMEOUT_SECONDS) + 5,
        **job,
    }
    package_root = str(Path(__file__).resolve().parents[3])
    env = dict(
        os.environ,
        RUST_BACKTRACE="0",
        PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    )
    with tempfile.TemporaryDirectory(prefix="profile-ui-read-") as folder:
        job_path = Path(folder) / "job.json"
        job_path.write_text(json.dumps(job))
        try:
            done = subprocess.run(
                [sys.executable, "-m", CHILD_MODULE, str(job_path)],
                input=data,
                capture_output=True,
                env=env,
                timeout=CHILD_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FileRejected(
                file_name,
                f"the workbook could not be read within {CHILD_TIMEOUT_SECONDS:g} "
                "seconds; it may be damaged or far larger inside than it looks",
            ) from None
        result_path = Path(folder) / sandbox.RESULT_FILE
        if done.returncode != 0 or not result_path.exists():
            log.warning(
                "workbook reader child for %s exited with %s: %s",
                file_name,
                done.returncode,
                done.stderr[-2000:].decode("utf-8", "replace"),
            )
            raise FileRejected(
                file_name,
                "the workbook could not be read: the reader stopped (it needed more "
                "memory or time than an import may use, or the file is damaged); "
                "open it in a spreadsheet program, save it again and upload it",
            )
        result = json.loads(result_path.read_text())
    if not result.get("ok"):
        raise FileRejected(file_name, result["reason"])
    return result, done.stdout


# ------------------------------------------------------------------------ text files


def _read_text_file(data: bytes, file_name: str, suffix: str) -> SheetData:
    settings = get_settings()
    text = _decode(data, file_name)
    separator_line = _SEP_LINE.match(text)
    if separator_line:  # Excel's "sep=;" hint line: Excel hides it, so row 1 is the next
        delimiter = separator_line.group(1)
        text = text[separator_line.end() :]
    else:
        delimiter = _detect_delimiter(text, suffix)
    if "\n" not in text:
        text = text.replace("\r", "\n")  # classic Mac line ends
    grid = _parse_delimited(text, delimiter, file_name)
    if grid is None:
        raise FileRejected(file_name, "the file has no data: it holds only blank lines")
    return _sheet_data(
        file_name,
        None,
        grid,
        first_row=1,
        has_header=True,
        max_rows=settings.upload_max_rows,
        too_many=limits.too_many_rows,
        empty_reason="the file has no data: it holds only blank lines",
    )


def _decode(raw: bytes, file_name: str) -> str:
    """Text from bytes: a BOM's encoding, else UTF-8, UTF-16 without BOM, cp1252, latin-1."""
    for bom, encoding, label in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise FileRejected(
                    file_name, f"the file starts with a {label} byte-order mark but is not valid {label} text"
                ) from None
            break
    else:
        text = _decode_without_bom(raw, file_name)
    if "\x00" in text:
        raise FileRejected(file_name, "the file holds binary data (NUL bytes): it is not a text (CSV) file")
    return text


def _decode_without_bom(raw: bytes, file_name: str) -> str:
    head = raw[:4096]
    if b"\x00" in head:
        # UTF-16 without BOM: ASCII text gives a NUL in every other byte
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = max(len(head) // 2, 1)
        encoding = "utf-16-le" if odd > 0.3 * half > even else "utf-16-be" if even > 0.3 * half > odd else None
        if encoding:
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                pass
        raise FileRejected(file_name, "the file holds binary data (NUL bytes): it is not a text (CSV) file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # maps every byte: the last resort never fails


def _detect_delimiter(text: str, suffix: str) -> str:
    """The candidate that splits the first records into the same number (>1) of fields."""
    sample = text[:SAMPLE_CHARS]
    cut = len(text) > len(sample)
    if cut and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    order = ["\t", ",", ";", "|"] if suffix == ".tsv" else [",", ";", "\t", "|"]
    best, best_score = order[0], (0.0, 0)
    for delimiter in order:
        try:
            counts = [len(r) for r in islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 200) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        fields, times = Counter(counts).most_common(1)[0]
        if fields < 2:
            continue
        score = (times / len(counts), fields)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_delimited(text: str, delimiter: str, file_name: str) -> pl.DataFrame | None:
    """Every record as text columns c0..cN (short records padded with nulls); None if blank.

    polars parses well-formed text fast; it refuses a stray quote inside a field (`5" screen`,
    `"Bob" Smith`), which spreadsheet programs accept, so such text is parsed again with the
    csv module the way they read it.
    """
    if not text.strip():
        return None
    width = _width(text[:SAMPLE_CHARS], delimiter, sample=True)
    data = text.encode("utf-8")
    for _attempt in range(2):
        try:
            return pl.read_csv(
                data,
                has_header=False,
                separator=delimiter,
                quote_char='"',
                infer_schema=False,
                schema={f"c{i}": pl.String for i in range(width)},
                missing_columns="insert",
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError:
            # a record further down has more fields than the sample showed, or a stray quote
            full_width = _width(text, delimiter, sample=False)
            if full_width == width:
                break
            width = full_width
    return _parse_leniently(text, delimiter, width, file_name)


def _width(text: str, delimiter: str, *, sample: bool) -> int:
    try:
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        return max((len(r) for r in (islice(rows, 1000) if sample else rows)), default=1) or 1
    except csv.Error:
        return 1


def _parse_leniently(text: str, delimiter: str, width: int, file_name: str) -> pl.DataFrame:
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a field over the csv module's 128K-character limit
        raise FileRejected(
            file_name,
            f"the file could not be read as {DELIMITERS.get(delimiter, repr(delimiter))}-separated text ({exc})",
        ) from None
    padded = [row + [""] * (width - len(row)) for row in rows]
    columns = zip(*padded, strict=True) if padded else [()] * width
    grid = pl.DataFrame(
        {f"c{i}": list(column) for i, column in enumerate(columns)}, schema={f"c{i}": pl.String for i in range(width)}
    )
    return grid.with_columns(pl.col(pl.String).replace("", None))


# ----------------------------------------------------------------- grid -> SheetData


def _sheet_data(
    file_name: str,
    sheet: str | None,
    grid: pl.DataFrame,
    *,
    first_row: int,
    has_header: bool,
    max_rows: int,
    too_many: Callable[[int, int], str],
    error_cells: Sequence[dict[str, Any]] = (),
    first_column: int | None = None,
    empty_reason: str = "there is nothing to import",
) -> SheetData:
    """Row numbers, blank rows dropped, headers named and unique, limits checked."""
    columns = list(grid.columns)
    if not columns or grid.height == 0:
        raise FileRejected(file_name, empty_reason)
    # blank cells are already null: calamine's whitespace_as_null, polars' empty_string_is_null
    grid = grid.with_row_index(ROW_COL, offset=first_row).with_columns(pl.col(ROW_COL).cast(pl.Int64))
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in columns])
    grid = grid.filter(~blank)
    if grid.height == 0:
        raise FileRejected(file_name, empty_reason)
    grid = _without_formula_guard(grid, columns)
    if has_header:
        header_row = grid.row(0, named=True)
        raw_headers = [header_row[c] for c in columns]
        data = grid.slice(1)
        if data.height == 0:
            raise FileRejected(file_name, "it has a header row but no data rows below it")
    else:
        raw_headers = [None] * len(columns)
        data = grid
    if data.height > max_rows:
        raise FileRejected(file_name, too_many(data.height, max_rows))
    headers = _unique_headers(raw_headers)
    # a column with neither a header nor a value (e.g. cells cleared to "") is left out
    non_null = data.select(pl.col(columns).count()).row(0)
    keep = [i for i, c in enumerate(columns) if (raw_headers[i] or "").strip() or non_null[i]]
    frame = data.select([pl.col(ROW_COL)] + [pl.col(columns[i]).alias(headers[i]) for i in keep])
    return SheetData(
        file_name=file_name,
        sheet=sheet,
        headers=[headers[i] for i in keep],
        frame=frame,
        cell_errors=_cell_errors(
            error_cells, headers, keep, first_column, set(data[ROW_COL].to_list()) if error_cells else set()
        ),
    )


_GUARDED_FORMULA = r"^'[=+\-@\t\r]"


def _without_formula_guard(grid: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Cells the app's own CSV files neutralized ("'=SUM(...)", services/sheet_writer.py)
    read back as they were, so an error file can be fixed and uploaded again unchanged."""
    guarded = grid.select([pl.col(c).str.contains(_GUARDED_FORMULA).any() for c in columns]).row(0)
    fix = [c for c, has in zip(columns, guarded) if has]
    return grid.with_columns(
        [
            pl.when(pl.col(c).str.contains(_GUARDED_FORMULA)).then(pl.col(c).str.slice(1)).otherwise(pl.col(c)).alias(c)
            for c in fix
        ]
    )


def _unique_headers(raw: list[str | None]) -> list[str]:
    """Trimmed; empty -> "Column N" (1-based position); repeats -> "Email (2)", "Email (3)"."""
    names = [(value or "").strip() or f"Column {i + 1}" for i, value in enumerate(raw)]
    taken = {ROW_COL.casefold(), ERRORS_COL.casefold(), VALID_COL.casefold()}
    first_of: dict[str, int] = {}
    for i, name in enumerate(names):
        if name.casefold() not in taken:
            taken.add(name.casefold())
            first_of[name.casefold()] = i
    result = []
    for i, name in enumerate(names):
        if first_of.get(name.casefold()) == i:
            result.append(name)
            continue
        number = 2
        while f"{name} ({number})".casefold() in taken:
            number += 1
        candidate = f"{name} ({number})"
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_errors(
    cells: Sequence[dict[str, Any]], headers: list[str], keep: list[int], first_column: int | None, data_rows: set[int]
) -> list[dict[str, Any]]:
    kept = set(keep)
    listed = []
    for cell in sorted(cells, key=lambda c: (c["row"], c["column"])):
        if cell["row"] not in data_rows:
            continue  # in the header row (that header is "Column N"), or a row of nothing else
        index = cell["column"] - first_column if first_column else None
        if index is not None and index in kept and index < len(headers):
            column = headers[index]
        else:
            column = f"column {_column_letters(cell['column'])}"
        listed.append(
            {
                "row": cell["row"],
                "column": column,
                "message": f"{cell['value']} (an Excel error value) in cell {cell['ref']} was read as empty",
            }
        )
    return listed[:MAX_CELL_ERRORS_LISTED]
