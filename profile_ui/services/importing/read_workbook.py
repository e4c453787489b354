"""Reading a workbook (.xlsx, .xlsm, .xls, .xlsb, .ods) in the sandboxed child.

The zip directory and the workbook part are checked here (zip bombs, entity bombs through
defusedxml, far-away cells); the sheet itself is parsed by sandbox.py in a child process
capped by RLIMIT_AS and CHILD_TIMEOUT_SECONDS (calamine aborts the whole process on some
files). The grid a parse gave is kept in the sheet cache (`sheet_cache_entry`), so the
dry run and the apply parse a file once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from ...settings import get_settings
from .. import file_store
from . import limits, sandbox
from .read_grid import sheet_from_grid
from .sheet_data import FileRejected, SheetData

log = logging.getLogger(__name__)

# other workbooks calamine reads in the child: (format, how the file must start)
BOOK_SUFFIXES = {".xls": "xls", ".xlsb": "xlsb", ".ods": "ods"}

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

_WORKSHEET_REL = "/worksheet"


@dataclass
class SheetPart:
    name: str
    part: str  # path of the sheet XML inside the zip
    visible: bool


@dataclass
class Workbook:
    sheets: list[SheetPart]
    parts: list[str]  # XML parts calamine reads besides the sheet (checked for DTDs)
    kind: str = "xlsx"  # or a value of BOOK_SUFFIXES


# the XML an .ods holds (checked for DTDs in the child before calamine reads it)
_ODS_PARTS = ["content.xml", "styles.xml", "meta.xml", "settings.xml", "META-INF/manifest.xml"]
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def open_workbook(data: bytes, file_name: str) -> Workbook:
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
    sheets: list[SheetPart] = []
    for element in workbook.iter():
        if _local(element.tag) != "sheet":
            continue
        rel_id = next((value for key, value in element.attrib.items() if _local(key) == "id"), "")
        target, kind = targets.get(rel_id, ("", ""))
        if not kind.endswith(_WORKSHEET_REL):
            continue  # chart sheets, dialog and macro sheets hold no rows
        part = target.lstrip("/") if target.startswith("/") else _join_part(base, target)
        sheets.append(
            SheetPart(name=element.get("name", ""), part=part, visible=element.get("state", "visible") == "visible")
        )
    parts = ["[Content_Types].xml", "_rels/.rels", workbook_part, rels_part]
    return Workbook(sheets=sheets, parts=parts)


def open_other_book(data: bytes, file_name: str, suffix: str) -> Workbook:
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
    book = Workbook(sheets=[], parts=parts, kind=kind)
    result, _ = _run_child(data, file_name, book, {"mode": "sheets"})
    book.sheets = [SheetPart(name=s["name"], part="", visible=s.get("visible", True)) for s in result["sheets"]]
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


def pickable_sheets(sheets: list[SheetPart]) -> list[SheetPart]:
    visible = [sheet for sheet in sheets if sheet.visible]
    return visible or sheets


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def choose_sheet(book: Workbook, file_name: str, sheet: str | None) -> SheetPart:
    if not book.sheets:
        raise FileRejected(file_name, "the workbook has no worksheet with rows to import")
    pickable = pickable_sheets(book.sheets)
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


def read_book_sheet(
    data: bytes, file_name: str, book: Workbook, chosen: SheetPart, *, check_extent: bool = True
) -> SheetData:
    settings = get_settings()
    grid, result = _parse_sheet(data, file_name, book, chosen, check_extent=check_extent)
    return sheet_from_grid(
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
    data: bytes, file_name: str, book: Workbook, chosen: SheetPart, *, check_extent: bool
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
    data: bytes, file_name: str, book: Workbook, chosen: SheetPart, *, check_extent: bool
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


def _run_child(data: bytes, file_name: str, book: Workbook, job: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
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
