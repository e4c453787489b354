"""Builders that write test files into tmp_path at test time (no binary files in the repo).

`make_xlsx` writes real workbooks with xlsxwriter; `make_raw_xlsx` assembles a package by
hand from XML text, for the malformed and hostile files no spreadsheet program writes;
`make_zip_bomb` builds a package whose sheet inflates to hundreds of MB without spending
the time to compress that much (one deflate block, repeated).
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from profile_ui.settings import get_settings

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    XML_HEAD + f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    XML_HEAD + f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    XML_HEAD + f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def sheet_xml(rows_xml: str, *, dimension: str | None = None, prolog: str = "") -> str:
    """A worksheet part around `<row>` elements (cells written by hand)."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return XML_HEAD + prolog + f'<worksheet xmlns="{MAIN_NS}">{dim}<sheetData>{rows_xml}</sheetData></worksheet>'


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def number_cell(ref: str, value: float | int) -> str:
    return f'<c r="{ref}"><v>{value}</v></c>'


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def write_zip(path: Path, members: Sequence[tuple[str, bytes, int, int]]) -> Path:
    """A zip of (name, raw deflate data, crc32, unpacked size) members, written by hand."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(local)
        local += (
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
            + encoded
            + data
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local) + bytes(central) + end)
    return path


def zip_member(name: str, text: str | bytes) -> tuple[str, bytes, int, int]:
    data = text.encode() if isinstance(text, str) else text
    return name, _deflate(data), zlib.crc32(data), len(data)


def package_members(
    sheet: str,
    *,
    workbook: str = WORKBOOK,
    extra: dict[str, str] | None = None,
) -> list[tuple[str, bytes, int, int]]:
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet,
        **(extra or {}),
    }
    return [zip_member(name, text) for name, text in parts.items()]


@pytest.fixture
def make_xlsx(tmp_path: Path) -> Callable[..., Path]:
    """make_xlsx("name.xlsx", {"Sheet": [[row 1 values], ...]}, formats=..., hidden=[...]).

    Values: str -> text cell, int/float -> number, bool, date/datetime -> a date cell (with a
    date format), None -> no cell, ("=formula", cached) -> a formula with its cached value,
    ("number", 45000) -> a number that is not a date.
    """

    def build(
        name: str,
        sheets: dict[str, list[list[Any]]],
        *,
        hidden: Sequence[str] = (),
        start_row: int = 0,
        start_col: int = 0,
    ) -> Path:
        path = tmp_path / name
        workbook = xlsxwriter.Workbook(
            str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
        )
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for sheet_name, rows in sheets.items():
            sheet = workbook.add_worksheet(sheet_name)
            if sheet_name in hidden:
                sheet.hide()
            for r, row in enumerate(rows, start=start_row):
                for c, value in enumerate(row, start=start_col):
                    if value is None:
                        continue
                    if isinstance(value, tuple) and str(value[0]).startswith("="):
                        sheet.write_formula(r, c, value[0], None, value[1])
                    elif isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, dt.datetime):
                        sheet.write_datetime(r, c, value, datetime_format)
                    elif isinstance(value, dt.date):
                        sheet.write_datetime(r, c, value, date_format)
                    elif isinstance(value, (int, float)):
                        sheet.write_number(r, c, value)
                    else:
                        sheet.write_string(r, c, value)
        workbook.close()
        return path

    return build


@pytest.fixture
def make_raw_xlsx(tmp_path: Path) -> Callable[..., Path]:
    """make_raw_xlsx("name.xlsx", sheet_xml(...), workbook=..., extra={"part": "xml"})."""

    def build(name: str, sheet: str, *, workbook: str = WORKBOOK, extra: dict[str, str] | None = None) -> Path:
        return write_zip(tmp_path / name, package_members(sheet, workbook=workbook, extra=extra))

    return build


@pytest.fixture
def make_zip_bomb(tmp_path: Path) -> Callable[..., Path]:
    """A package whose sheet XML inflates to `megabytes` MB of blanks inside one row."""

    def build(name: str, megabytes: int) -> Path:
        block = b" " * (1 << 20)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        # a full flush ends each block on a byte boundary with a fresh dictionary, so the
        # compressed megabyte can simply be repeated
        repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
        head = sheet_xml("").split("<sheetData>")[0].encode() + b"<sheetData>"
        tail = b"</sheetData></worksheet>"
        crc = zlib.crc32(head)
        for _ in range(megabytes):
            crc = zlib.crc32(block, crc)
        crc = zlib.crc32(tail, crc)
        opener = zlib.compressobj(9, zlib.DEFLATED, -15)
        closer = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = (
            opener.compress(head)
            + opener.flush(zlib.Z_FULL_FLUSH)
            + repeated * megabytes
            + closer.compress(tail)
            + closer.flush()
        )
        members = [m for m in package_members(sheet_xml("")) if m[0] != "xl/worksheets/sheet1.xml"]
        members.append(("xl/worksheets/sheet1.xml", data, crc, len(head) + megabytes * len(block) + len(tail)))
        return write_zip(tmp_path / name, members)

    return build


@pytest.fixture
def write_text(tmp_path: Path) -> Callable[..., Path]:
    """write_text("name.csv", "text", encoding="utf-8", bom=b"") -> path."""

    def build(name: str, text: str, *, encoding: str = "utf-8", bom: bytes = b"") -> Path:
        path = tmp_path / name
        path.write_bytes(bom + text.encode(encoding))
        return path

    return build


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """limits(upload_max_rows=5, ...): lower the settings' limits for one test."""

    def apply(**values: int) -> None:
        for key, value in values.items():
            monkeypatch.setattr(get_settings(), key, value)

    return apply
