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
most the upload limit and are parsed with polars.

This module is the entry point (`list_sheets`, `read_upload`, `read_pasted`) and the
file-level checks (extension against magic bytes, size); the readers it hands a checked
file to are `read_workbook.py` (the zip checks, the sandboxed child, the sheet cache),
`read_text.py` (encoding and delimiter detection, CSV parsing) and `read_grid.py` (a
parsed grid made into `SheetData`, defined in `sheet_data.py` with `FileRejected`).
"""

from __future__ import annotations

from pathlib import Path

from ...settings import get_settings
from .. import file_store
from . import limits
from .read_grid import sheet_from_grid
from .read_text import parse_delimited, read_text_file
from .read_workbook import (
    BOOK_SUFFIXES,
    PARSED_SHEET_CACHE_HOURS,
    choose_sheet,
    open_other_book,
    open_workbook,
    pickable_sheets,
    read_book_sheet,
)
from .sheet_data import FileRejected, SheetData

__all__ = [
    "PARSED_SHEET_CACHE_HOURS",
    "PASTED_FILE_NAME",
    "FileRejected",
    "SheetData",
    "list_sheets",
    "read_pasted",
    "read_upload",
]


PASTED_FILE_NAME = "Pasted cells"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")

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


# ---------------------------------------------------------------------------- public


def list_sheets(path: Path | str, *, file_name: str) -> list[str]:
    """The sheets a user can pick from (visible worksheets); [] for a text file."""
    path = Path(path)
    suffix = _suffix(file_name, path)
    data = _load(path, file_name)
    _check_file(data, file_name, suffix)
    if suffix in BOOK_SUFFIXES:
        return [sheet.name for sheet in pickable_sheets(open_other_book(data, file_name, suffix).sheets)]
    if suffix not in XLSX_SUFFIXES:
        return []
    return [sheet.name for sheet in pickable_sheets(open_workbook(data, file_name).sheets)]


def read_upload(path: Path | str, *, file_name: str, sheet: str | None = None) -> SheetData:
    """Read an uploaded workbook or text file; a workbook with several sheets needs `sheet`."""
    path = Path(path)
    suffix = _suffix(file_name, path)
    data = _load(path, file_name)
    _check_file(data, file_name, suffix)
    if suffix in BOOK_SUFFIXES:
        book = open_other_book(data, file_name, suffix)
        chosen = choose_sheet(book, file_name, sheet)
        return read_book_sheet(data, file_name, book, chosen, check_extent=False)
    if suffix in XLSX_SUFFIXES:
        book = open_workbook(data, file_name)
        chosen = choose_sheet(book, file_name, sheet)
        return read_book_sheet(data, file_name, book, chosen)
    return read_text_file(data, file_name, suffix)


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
    grid = parse_delimited(text, "\t", PASTED_FILE_NAME) if text.strip() else None
    if grid is None:
        raise FileRejected(PASTED_FILE_NAME, "nothing was pasted")
    return sheet_from_grid(
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
