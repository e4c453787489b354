"""Writers of the workbook formats besides .xlsx, for the reader's tests and the browser
tests: legacy .xls (xlwt), OpenDocument .ods and binary .xlsb (assembled here, byte for
byte: no Python library writes .xlsb), plus hostile variants no spreadsheet program writes.
Nothing binary is kept in the repository."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"


def write_xls(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def _ods_cell(value: object) -> str:
    if isinstance(value, (int, float)):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def ods_content(sheets: dict[str, list[list[object]]], *, prolog: str = "", tail_rows: str = "") -> str:
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>" for row in rows)
        + tail_rows
        + "</table:table>"
        for name, rows in sheets.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        + prolog
        + '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )


def write_ods(path: Path, sheets: dict[str, list[list[object]]] | None = None, *, content: str | None = None) -> Path:
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIMETYPE}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content if content is not None else ods_content(sheets or {}))
        archive.writestr("META-INF/manifest.xml", manifest)
    return path


# ------------------------------------------------------------------ .xlsb (MS-XLSB records)
def _varint(number: int) -> bytes:
    out = b""
    while True:
        low, number = number & 0x7F, number >> 7
        if not number:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _record(kind: int, data: bytes = b"") -> bytes:
    return _varint(kind) + _varint(len(data)) + data


def _wide(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<I", len(encoded) // 2) + encoded


def write_xlsb(
    path: Path,
    rows: list[list[str]],
    *,
    sheet: str = "Sheet1",
    far_cell: tuple[int, int] | None = None,
    relationship: str = "rId1",
) -> Path:
    """One sheet of text cells; `far_cell` (row, column; 0-based) adds a value that far
    away; `relationship` other than rId1 leaves the sheet's relationship dangling."""
    workbook = (
        _record(0x0083)
        + _record(0x008F)
        + _record(0x009C, struct.pack("<II", 0, 1) + _wide(relationship) + _wide(sheet))
        + _record(0x0090)
        + _record(0x009D, b"\x00" * 26)
        + _record(0x0084)
    )
    cells = [(r, c, value) for r, row in enumerate(rows) for c, value in enumerate(row)]
    if far_cell:
        cells.append((*far_cell, "far"))
    last_row = max(r for r, _, _ in cells)
    last_col = max(c for _, c, _ in cells)
    data = _record(0x0081) + _record(0x0094, struct.pack("<IIII", 0, last_row, 0, last_col)) + _record(0x0091)
    current = None
    for r, c, value in cells:
        if r != current:
            data += _record(0x0000, struct.pack("<I", r) + b"\x00" * 13)  # BrtRowHdr
            current = r
        data += _record(0x0006, struct.pack("<II", c, 0) + _wide(value))  # BrtCellSt
    data += _record(0x0092) + _record(0x0082)
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships '
        'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.bin"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        archive.writestr("xl/workbook.bin", workbook)
        archive.writestr("xl/_rels/workbook.bin.rels", rels)
        archive.writestr("xl/worksheets/sheet1.bin", data)
    return path
