"""The one writer of every CSV and xlsx file the app hands to people (exports, the audit
log as CSV, import error files): whatever the data holds, no cell of them runs as a formula.

- CSV (`CsvSink`, `ZipSink`): a header or text cell that a spreadsheet would run as a
  formula (it starts with = + - @, tab, CR or NUL) gets a leading `'`. Plain signed numbers
  ("+84901234567", "-12.5") are numbers to a spreadsheet, not formulas, and stay as they are.
  Headers are written by hand, so a file's headers may repeat (an error file keeps the
  uploaded file's own).
- xlsx (`XlsxSink`): every text, headers included, is an inline string cell
  (`t="inlineStr"`), so nothing in the data can ever be a formula: the package has no <f>
  element at all. Columns marked as numbers are numeric cells when the value is a number.

Sinks take polars frames whose columns are in header order (names do not matter), chunk
after chunk, so memory stays one chunk whatever the file's size. `write_table` writes one
frame in one go.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from typing import IO

import polars as pl

SHEET_FORMATS = ("csv", "xlsx")
FORMULA_START = r"^[=+\-@\t\r\x00]"
PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_FORMULA_START_RE = re.compile(FORMULA_START)
_PLAIN_NUMBER_RE = re.compile(PLAIN_NUMBER)
XLSX_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header


# ---------------------------------------------------------------- formula neutralization
def neutralize_formula(value: str | None) -> str | None:
    """One text cell made safe for CSV: a leading ' when a spreadsheet would run it."""
    if value and _FORMULA_START_RE.match(value) and not _PLAIN_NUMBER_RE.match(value):
        return "'" + value
    return value


def neutralized(column: str) -> pl.Expr:
    """`neutralize_formula` over a whole text column."""
    col = pl.col(column)
    risky = col.str.contains(FORMULA_START) & ~col.str.contains(PLAIN_NUMBER)
    return pl.when(risky.fill_null(False)).then(pl.lit("'") + col).otherwise(col).alias(column)


def neutralize_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every formula-like text cell neutralized; only the columns where some
    cell starts like a formula are rewritten (one cheap pass finds them)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String()]
    if not texts or frame.is_empty():
        return frame
    starts = frame.select([pl.col(n).str.contains(FORMULA_START).any() for n in texts]).row(0)
    risky = [name for name, start in zip(texts, starts) if start]
    return frame.with_columns([neutralized(name) for name in risky]) if risky else frame


# ---------------------------------------------------------------- CSV
def _csv_cell(text: str) -> str:
    """One header cell, quoted as polars quotes the data cells."""
    if any(ch in text for ch in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvSink:
    """CSV into a binary stream: the header row at once, then frames as they come; header and
    text cells that a spreadsheet would run get a leading '. `bom`: a UTF-8 BOM first, so
    Excel reads the text (Vietnamese names) right."""

    def __init__(self, handle: IO[bytes], headers: Sequence[str], *, bom: bool) -> None:
        self.handle = handle
        head = ",".join(_csv_cell(neutralize_formula(str(h)) or "") for h in headers) + "\n"
        handle.write((b"\xef\xbb\xbf" if bom else b"") + head.encode())

    def write(self, frame: pl.DataFrame) -> None:
        neutralize_frame(frame).write_csv(self.handle, include_header=False)

    def close(self) -> None:
        self.handle.close()


class ZipSink(CsvSink):
    """The same CSV, deflated into a zip archive written to the binary stream `out` as it
    goes (an unseekable stream is fine: zipfile then writes data descriptors); closing the
    sink closes `out`."""

    def __init__(self, out: IO[bytes], inner_name: str, headers: Sequence[str], *, bom: bool) -> None:
        self.out = out
        self.archive = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        super().__init__(self.archive.open(inner_name, "w", force_zip64=True), headers, bom=bom)

    def close(self) -> None:
        try:
            super().close()
            self.archive.close()
        finally:
            self.out.close()


# ---------------------------------------------------------------- xlsx
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_VIEWS = (
    _XML_HEAD + f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheetViews>'
    '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_STYLES = (  # two cell formats: 0 normal, 1 bold (the header row)
    _XML_HEAD + f'<styleSheet xmlns="{_MAIN_NS}"><fonts count="2"><font><sz val="11"/>'
    '<name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/>'
    '<family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
    '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" '
    'borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle '
    'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
XLSX_MAX_CELL_CHARS = 32_767
_XLSX_SLICE_ROWS = 5_000
# characters XML 1.0 cannot carry (and CR, which parsers turn into LF): OOXML writes them as
# _xHHHH_; a literal "_xHHHH_" in the data is kept by escaping its underscore (_x005F_)
_XML_UNSAFE = [chr(c) for c in (*range(9), 11, 12, 13, *range(14, 32))]
_XML_UNSAFE_PATTERN = "[" + "".join(f"\\x{ord(c):02x}" for c in _XML_UNSAFE) + "]"


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: pl.Expr, has_unsafe: bool) -> pl.Expr:
    escaped = (
        value.str.slice(0, XLSX_MAX_CELL_CHARS)
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1")
    )
    if has_unsafe:
        for char in _XML_UNSAFE:
            escaped = escaped.str.replace_all(char, f"_x{ord(char):04X}_", literal=True)
    return escaped


def _xml_texts(texts: Sequence[str]) -> list[str]:
    """A few texts (the headers) escaped as `_xml_text` escapes a column."""
    frame = pl.DataFrame({"t": [str(t) for t in texts]}, schema={"t": pl.String})
    return frame.select(_xml_text(pl.col("t"), True)).to_series().to_list()


class XlsxSink:
    """xlsx written as XML text built column-wise by polars, deflated into the package as
    it goes (memory stays one chunk; about 1 µs per cell instead of xlsxwriter's ~12 µs).

    Every text is an inline string cell, never a formula (see the module docstring);
    `number_columns` (column positions) are numeric cells when the value is a number. The
    header row is bold and frozen; `widths` (characters, one per column) sets column widths.
    Past XLSX_MAX_DATA_ROWS rows the data goes on in a new sheet with the headers again
    ("<sheet_name>", "<sheet_name> 2", ...).
    """

    def __init__(
        self,
        out: IO[bytes],
        headers: Sequence[str],
        *,
        number_columns: Sequence[int] = (),
        sheet_name: str = "Sheet",
        widths: Sequence[float] | None = None,
    ) -> None:
        self.out = out  # the package is written to this binary stream; close() closes it
        self.archive = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3)
        self.headers = list(headers)
        self.numbers = set(number_columns)
        self.sheet_name, self.widths = sheet_name, widths
        self.letters = [_column_letters(i) for i in range(len(self.headers))]
        self.sheets = 0
        self.handle: IO[bytes] | None = None
        self.rows_in_sheet = 0

    def _open_sheet(self) -> None:
        self._close_sheet()
        self.sheets += 1
        self.handle = self.archive.open(f"xl/worksheets/sheet{self.sheets}.xml", "w", force_zip64=True)
        header = "".join(
            f'<c r="{letter}1" t="inlineStr" s="1"><is><t xml:space="preserve">{text}</t></is></c>'
            for letter, text in zip(self.letters, _xml_texts(self.headers))
        )
        cols = (
            "<cols>"
            + "".join(
                f'<col min="{n}" max="{n}" width="{w}" customWidth="1"/>' for n, w in enumerate(self.widths, start=1)
            )
            + "</cols>"
            if self.widths
            else ""
        )
        self.handle.write((_SHEET_VIEWS + cols + f'<sheetData><row r="1">{header}</row>').encode())
        self.rows_in_sheet = 0

    def _close_sheet(self) -> None:
        if self.handle is not None:
            self.handle.write(_SHEET_TAIL.encode())
            self.handle.close()
            self.handle = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.handle is None:
            self._open_sheet()
        offset = 0
        while offset < frame.height:
            if self.rows_in_sheet >= XLSX_MAX_DATA_ROWS:
                self._open_sheet()
            # a slice at a time: the XML of 50,000 rows would be a few hundred MB of strings
            take = min(frame.height - offset, XLSX_MAX_DATA_ROWS - self.rows_in_sheet, _XLSX_SLICE_ROWS)
            assert self.handle is not None  # _open_sheet above always leaves one open
            self.handle.write(self._rows_xml(frame.slice(offset, take), self.rows_in_sheet + 2).encode())
            self.rows_in_sheet += take
            offset += take

    def _rows_xml(self, frame: pl.DataFrame, first_row: int) -> str:
        names = frame.columns
        unsafe = frame.select(
            [pl.col(n).cast(pl.String).str.contains(_XML_UNSAFE_PATTERN).any().alias(n) for n in names]
        ).row(0)
        row = pl.col("__row")
        cells = []
        for index, (name, letter, has_unsafe) in enumerate(zip(names, self.letters, unsafe)):
            value = pl.col(name).cast(pl.String)
            ref = pl.concat_str([pl.lit(f'<c r="{letter}'), row])
            text_cell = pl.concat_str(
                [
                    ref,
                    pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                    _xml_text(value, bool(has_unsafe)),
                    pl.lit("</t></is></c>"),
                ]
            )
            if index in self.numbers:
                number = value.cast(pl.Float64, strict=False)
                is_number = number.is_not_null() & number.is_finite()
                cell = (
                    pl.when(is_number)
                    .then(pl.concat_str([ref, pl.lit('"><v>'), value.str.strip_chars(), pl.lit("</v></c>")]))
                    .otherwise(text_cell)
                )
            else:
                cell = text_cell
            cells.append(pl.when(value.fill_null("") == "").then(pl.lit("")).otherwise(cell))
        rows = frame.with_columns(
            pl.int_range(first_row, first_row + frame.height, dtype=pl.Int64).cast(pl.String).alias("__row")
        ).select(
            pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")]).str.join("").alias("xml")
        )
        return rows.item()

    def close(self) -> None:
        if self.sheets == 0:
            self._open_sheet()
        self._close_sheet()
        sheets = range(1, self.sheets + 1)
        base = _xml_texts([self.sheet_name[:25]])[0]
        names = [base if n == 1 else f"{base} {n}" for n in sheets]
        parts = {
            "[Content_Types].xml": (
                _XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                + "".join(
                    f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for n in sheets
                )
                + "</Types>"
            ),
            "_rels/.rels": (
                _XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
                f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                _XML_HEAD + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews>'
                "<workbookView/></bookViews><sheets>"
                + "".join(f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>' for n, name in zip(sheets, names))
                + "</sheets></workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                _XML_HEAD
                + f'<Relationships xmlns="{_PKG_REL_NS}">'
                + "".join(
                    f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                    for n in sheets
                )
                + f'<Relationship Id="rId{self.sheets + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            self.archive.writestr(name, text)
        try:
            self.archive.close()
        finally:
            self.out.close()


# ---------------------------------------------------------------- one frame at once
def write_table(
    out: IO[bytes],
    headers: Sequence[str],
    frame: pl.DataFrame,
    fmt: str,
    *,
    sheet_name: str = "Sheet",
    widths: Sequence[float] | None = None,
    number_columns: Sequence[int] = (),
) -> None:
    """One frame (columns in `headers` order, every value text) as a .csv (with a BOM) or
    .xlsx file into the binary stream `out` (the caller opens it: a private, maybe encrypted
    file of services/file_store.py); closes it."""
    if fmt not in SHEET_FORMATS:
        out.close()
        raise ValueError(f"unknown file format '{fmt}' (expected csv or xlsx)")
    sink: CsvSink | XlsxSink = (
        CsvSink(out, headers, bom=True)
        if fmt == "csv"
        else XlsxSink(out, headers, sheet_name=sheet_name, widths=widths, number_columns=number_columns)
    )
    try:
        sink.write(frame)
    finally:
        sink.close()
