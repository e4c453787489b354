"""The child process that parses one workbook sheet, so a hostile workbook cannot hurt the app.

Run as `python -m profile_ui.services.importing.sandbox JOB.json` by read_workbook.py, never imported
by the app for parsing. It caps its own address space (RLIMIT_AS) and CPU time before it
loads the parsers, because calamine (fastexcel) does not fail politely: a value in cell
XFD1048576 of a 5 KB file makes it allocate a 17-billion-cell grid and abort the whole
process. Here that abort costs a child, and read_workbook.py turns it into "could not be read".

Steps, each bounded:
1. the prolog of every XML part calamine reads is checked for a DTD (the way into entity
   bombs; no part a spreadsheet program writes has one);
2. the sheet XML is streamed once (never held whole) to find the cells that carry a value
   far to the bottom or right (the real extent calamine allocates; a declared <dimension>
   is neither trusted nor needed, calamine ignores it) and the error cells (#N/A...);
3. calamine reads the sheet with every column as text; date cells come back as
   "YYYY-MM-DD HH:MM:SS" and are rewritten to ISO ("YYYY-MM-DD" at midnight, else
   "YYYY-MM-DDTHH:MM:SS"; a time-only cell, Excel's day 0, as "HH:MM:SS");
4. the grid goes back as an Arrow IPC stream on stdout, result.json next to JOB.json.

The workbook's bytes come on stdin (JOB's "path" is null): an upload is stored encrypted
(services/file_store.py) and its plain bytes are never written to disk; nor is the grid.

Legacy .xls, .xlsb and .ods (job "format") take the same path without step 2 (their cells
are not XML to scan; the memory cap stops a runaway grid): the XML parts of an .ods or
.xlsb package are checked for a DTD, then calamine reads the sheet. Job "mode" "sheets"
lists a workbook's sheets instead (for these formats the parent cannot read them itself).

The zip-level checks (magic bytes, total size, compression ratio, encryption) and the
sheet choice happen in the parent before this starts; they only read the zip directory.
"""

from __future__ import annotations

import io
import json
import re
import resource
import sys
import zipfile
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
CHUNK_BYTES = 1 << 20
# bytes kept from one chunk to the next so a tag cut at a chunk border is seen whole
OVERLAP_BYTES = 4096
PROLOG_BYTES = 64 * 1024
MAX_ERROR_CELLS_LISTED = 200

_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_VALUE_TAG = re.compile(rb"<(?:\w+:)?(?:v|is)\b")
_CELL_END = re.compile(rb"</(?:\w+:)?c>")
_ROW_END = re.compile(rb"</(?:\w+:)?row>")
_REF_ATTR = re.compile(rb'\sr=["\']([A-Z]{1,4})([0-9]+)["\']')
_ERROR_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]{1,40})</")
_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")
_COLUMN_A = re.compile(rb' r="A[0-9]+"')
_REF_VALUE = re.compile(rb'([A-Z]{0,4})([0-9]+)["\']')
_SHAPE = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\t\n\r'", b"0" * 10 + b"A" * 26 + b'   "')
# calamine's text for a time-only cell: the day before 1900-01-01 (Excel's day 0)
_EXCEL_DAY_ZERO = "1899-12-31T"
_DATE_TIME = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"


class Rejected(Exception):
    """The sheet cannot be imported; the message is the reason shown to the user."""


def column_index(letters: str) -> int:
    """1-based column number of Excel column letters ("A" -> 1, "XFD" -> 16384)."""
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index


def check_prologs(archive: zipfile.ZipFile, parts: list[str]) -> None:
    """Refuse an XML part calamine reads that declares a DTD: the way into entity bombs."""
    wanted = {part.lower() for part in parts}
    for info in archive.infolist():
        name = info.filename.lower()
        top_level_xl = name.startswith("xl/") and name.count("/") == 1
        if info.is_dir() or not (name in wanted or (top_level_xl and name.endswith(".xml"))):
            continue
        with archive.open(info) as part:
            head = part.read(PROLOG_BYTES)
        root = _ROOT_ELEMENT.search(head)
        prolog = head if root is None else head[: root.start()]
        if _DTD.search(prolog) or (root is None and len(head) == PROLOG_BYTES):
            raise Rejected(
                f"its part {info.filename} declares XML entities (a DTD), which workbooks "
                "saved by spreadsheet programs never do: it looks like an XML entity bomb"
            )


class SheetScan:
    """What streaming the sheet XML found: far-away values, column A, error cells.

    Matching a regex against each of a million cell references costs seconds; instead
    each chunk is mapped byte for byte (digits -> "0", capitals -> "A", blanks -> " ",
    ' -> ") so every far reference looks alike, and plain `find`s locate the rare ones:
    ` r="AAA` (column 703 or more) and a number of as many digits as the row threshold
    has, closing an attribute (a row that far down, when the attribute is `r`). Each hit
    is then read in the original.
    """

    def __init__(self, *, row_threshold: int, max_columns: int) -> None:
        self.row_threshold = row_threshold
        self.max_columns = max_columns
        self._far_row_mark = b"0" * len(str(row_threshold)) + b'"'

        self.column_a_has_value = False
        self.error_cells: list[dict[str, Any]] = []  # the first MAX_ERROR_CELLS_LISTED

    def feed(self, buffer: bytes, end: int, final: bool) -> None:
        """Look at hits that start before `end`; the rest is seen with the next chunk."""
        shape = buffer.translate(_SHAPE)
        mark = self._far_row_mark
        position = shape.find(mark, 0, end)
        while position != -1:
            attribute = shape.rfind(b' r="', max(position - 32, 0), position)
            if attribute != -1:
                self._far_hit(buffer, attribute + 4, final, ends_at=position + len(mark))
            position = shape.find(mark, position + len(mark), end)
        position = shape.find(b' r="AAA', 0, end)
        while position != -1:
            self._far_hit(buffer, position + 4, final)
            position = shape.find(b' r="AAA', position + 7, end)
        if not self.column_a_has_value:
            for match in _COLUMN_A.finditer(buffer, 0, end):
                if self._holds_value(buffer, match.end(), False, final):
                    self.column_a_has_value = True
                    break
        position = shape.find(b' t="e"', 0, end)
        while position != -1:
            self._error_cell(buffer, position)
            position = shape.find(b' t="e"', position + 6, end)

    def _far_hit(self, buffer: bytes, start: int, final: bool, ends_at: int | None = None) -> None:
        ref = _REF_VALUE.match(buffer, start)
        if ref is None or (ends_at is not None and ref.end() != ends_at):
            return  # not a reference: another attribute's number
        letters = ref.group(1).decode()
        row = int(ref.group(2))
        column = column_index(letters)
        if row < self.row_threshold and column <= self.max_columns:
            return
        if not self._holds_value(buffer, ref.end(), not letters, final):
            return
        if row >= self.row_threshold:
            where = f"row {row:,}" if not letters else f"cell {letters}{row} (row {row:,})"
            raise Rejected(
                f"the sheet has a value in {where}, far below the rows an import can hold; "
                "delete the stray cells under your data (or copy the data to a new sheet) "
                "and upload again"
            )
        raise Rejected(
            f"the sheet has a value in cell {letters}{row} (column {column:,}), far to the "
            f"right: at most {self.max_columns:,} columns can be imported; delete the stray "
            "cells beside your data (or copy the data to a new sheet) and upload again"
        )

    @staticmethod
    def _holds_value(buffer: bytes, after: int, is_row_element: bool, final: bool) -> bool:
        """Whether the element whose tag continues at `after` holds a value calamine keeps."""
        tag_end = buffer.find(b">", after)
        if tag_end == -1:
            return not final and not is_row_element
        if buffer[tag_end - 1 : tag_end] == b"/":
            return False  # <c r="XFD1048576" s="1"/>: formatting only, calamine skips it
        closing = (_ROW_END if is_row_element else _CELL_END).search(buffer, tag_end)
        if closing is None:
            # the element runs past this chunk: a cell that long is counted as holding a
            # value; a row is judged by its cells
            return not is_row_element
        body = buffer[tag_end : closing.start()]
        if is_row_element and _REF_ATTR.search(body):
            return False  # its cells carry references and are judged (and named) on their own
        return _VALUE_TAG.search(body) is not None

    def _error_cell(self, buffer: bytes, position: int) -> None:
        if len(self.error_cells) >= MAX_ERROR_CELLS_LISTED:
            return
        tag_start = buffer.rfind(b"<", 0, position)
        tag_end = buffer.find(b">", position)
        if tag_start == -1 or tag_end == -1 or buffer[tag_end - 1 : tag_end] == b"/":
            return
        ref = _REF_ATTR.search(buffer, tag_start, tag_end)
        if ref is None:
            return
        closing = _CELL_END.search(buffer, tag_end)
        value = _ERROR_VALUE.search(buffer, tag_end, closing.start()) if closing else None
        self.error_cells.append(
            {
                "column": column_index(ref.group(1).decode()),
                "row": int(ref.group(2)),
                "ref": (ref.group(1) + ref.group(2)).decode(),
                "value": value.group(1).decode("utf-8", "replace") if value else "#ERROR",
            }
        )


def scan_sheet(archive: zipfile.ZipFile, part: str, *, row_threshold: int, max_columns: int) -> SheetScan:
    """Stream the sheet XML once; zipfile checks the CRC and the declared size at the end."""
    scan = SheetScan(row_threshold=row_threshold, max_columns=max_columns)
    tail = b""
    with archive.open(part) as stream:
        while True:
            chunk = stream.read(CHUNK_BYTES)
            final = not chunk
            buffer = tail + chunk
            end = len(buffer) if final else max(len(buffer) - OVERLAP_BYTES, 0)
            scan.feed(buffer, end, final)
            if final:
                return scan
            tail = buffer[end:]


def read_grid(path: str | bytes, sheet: str) -> Any:
    """The sheet as a polars frame of text columns, from row 1 of the sheet down."""
    # loaded only now, after main() capped this child's memory and CPU: the parsers are what
    # the caps are for (and a child that refuses the file early never pays for loading them)
    import fastexcel
    import polars as pl

    reader = fastexcel.read_excel(path)
    # header_row=None + skip_rows=0: every row from the sheet's row 1, nothing skipped;
    # every column read as text (no type guessing); blank cells ("", "  ") are null
    loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string", whitespace_as_null=True)
    grid = loaded.to_polars()
    grid = grid.rename({name: f"c{i}" for i, name in enumerate(grid.columns)})
    text = pl.col(pl.String)
    # only values of a date cell's length can be one; the regex runs on those alone
    as_iso = text.str.replace(_DATE_TIME, "${1}T${2}").str.strip_prefix(_EXCEL_DAY_ZERO).str.strip_suffix("T00:00:00")
    return grid.with_columns(
        pl.when(text.str.len_bytes().is_between(19, 29))
        .then(as_iso)
        # calamine prints negative zero as "-0"
        .when(text == "-0")
        .then(pl.lit("0"))
        .otherwise(text)
        .name.keep()
    )


def list_sheets(workbook: str | bytes) -> list[dict[str, Any]]:
    """The workbook's sheets in order: {"name", "visible"}."""
    import fastexcel  # as in read_grid: loaded after main() capped this child

    reader = fastexcel.read_excel(workbook)
    return [{"name": name, "visible": True} for name in reader.sheet_names]


def run(job: dict[str, Any], workbook: str | bytes) -> tuple[dict[str, Any], bytes]:
    """(the verdict, the grid as Arrow IPC bytes; empty when refused or when listing sheets)."""
    fmt = job.get("format", "xlsx")
    try:
        scan = None
        if fmt != "xls":  # the others are zip packages of XML (or, for .xlsb, binary) parts
            with zipfile.ZipFile(io.BytesIO(workbook) if isinstance(workbook, bytes) else workbook) as archive:
                check_prologs(archive, job["parts"])
                if fmt == "xlsx" and job.get("mode", "read") == "read" and job.get("check_extent", True):
                    scan = scan_sheet(
                        archive, job["part"], row_threshold=job["row_threshold"], max_columns=job["max_columns"]
                    )
        if job.get("mode") == "sheets":
            return {"ok": True, "sheets": list_sheets(workbook)}, b""
        grid = read_grid(workbook, job["sheet"])
    except Rejected as exc:
        return {"ok": False, "reason": str(exc)}, b""
    except zipfile.BadZipFile as exc:
        return {"ok": False, "reason": f"the workbook is damaged ({exc})"}, b""
    except KeyError:
        return {"ok": False, "reason": f"the workbook is damaged: the sheet's part {job.get('part')} is missing"}, b""
    except Exception as exc:
        if not _is_calamine_error(exc):
            raise  # out of memory and the like: main() reports the reader as stopped
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {"ok": False, "reason": f"the sheet could not be read as Excel data ({message})"}, b""
    out = io.BytesIO()
    grid.write_ipc(out, compression="uncompressed")
    return {
        "ok": True,
        # calamine's grid starts at the first column holding a value: column A or unknown
        "first_column": 1 if scan and scan.column_a_has_value else None,
        "error_cells": scan.error_cells if scan else [],
    }, out.getvalue()


def _is_calamine_error(exc: Exception) -> bool:
    import fastexcel  # as in read_grid: loaded after the caps (already loaded by then)

    return isinstance(exc, fastexcel.FastExcelError | fastexcel.CalamineError)


def limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    job_path = Path(argv[1])
    job = json.loads(job_path.read_text())
    workbook = job["path"] or sys.stdin.buffer.read()
    limit_resources(job["memory_bytes"], job["cpu_seconds"])
    # a non-zero exit (MemoryError, a parser half-imported for lack of memory...) is
    # reported by the parent as a reader that stopped
    result, grid = run(job, workbook)
    sys.stdout.buffer.write(grid)
    sys.stdout.buffer.flush()
    (job_path.parent / RESULT_FILE).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
