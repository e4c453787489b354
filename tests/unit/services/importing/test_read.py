"""Reading files: every value arrives as the user sees it; bad files are refused whole.

Each malformed or hostile file has its own test, asserting that the message names the file
and the reason. Files are generated into tmp_path by the builders in conftest.py.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from pathlib import Path

import polars as pl
import pytest

from profile_ui.services.importing import ROW_COL, read_workbook
from profile_ui.services.importing.read import (
    PASTED_FILE_NAME,
    FileRejected,
    SheetData,
    list_sheets,
    read_pasted,
    read_upload,
)

from .conftest import number_cell, sheet_xml, text_cell

VIETNAMESE = "Nguyễn Thị Ánh Tuyết"
CHINESE = "张伟"
ARABIC = "محمد علي"


def rejected(path: Path, *, file_name: str | None = None, sheet: str | None = None) -> FileRejected:
    name = file_name or path.name
    with pytest.raises(FileRejected) as caught:
        read_upload(path, file_name=name, sheet=sheet)
    error = caught.value
    assert error.file_name == name
    assert str(error) == f"{name}: {error.reason}"
    return error


def values(sheet: SheetData, header: str) -> list[str | None]:
    return sheet.frame[header].to_list()


def assert_all_text(sheet: SheetData) -> None:
    assert sheet.frame.columns == [ROW_COL, *sheet.headers]
    assert sheet.frame.schema[ROW_COL] == pl.Int64
    assert all(sheet.frame.schema[h] == pl.String for h in sheet.headers)


# ------------------------------------------------------------------ nothing is lost


def no_loss_rows() -> list[list[object]]:
    """200 numeric-looking values then a word at row 201, zeros, long ids, three scripts."""
    rows: list[list[object]] = [["Customer ID", "Phone", "Zip", "Score", "Name", "Joined", "Serial date"]]
    for i in range(2, 203):
        score: object = "unknown" if i == 201 else str(i * 10)
        rows.append(
            [
                f"{12345678901234567000 + i}",
                "0049151" if i == 2 else f"0912{i:06d}",
                "01234",
                score,
                [VIETNAMESE, CHINESE, ARABIC][i % 3],
                "2024-01-31",
                "45000",
            ]
        )
    return rows


def test_xlsx_keeps_every_value_exactly(make_xlsx) -> None:
    rows = no_loss_rows()
    # the numeric-looking values are stored as numbers where Excel would store them so
    typed = [rows[0]] + [
        [r[0], r[1], r[2], int(r[3]) if r[3] != "unknown" else "unknown", r[4], dt.date(2024, 1, 31), 45000]
        for r in rows[1:]
    ]
    sheet = read_upload(make_xlsx("people.xlsx", {"Sheet1": typed}), file_name="people.xlsx")

    assert_all_text(sheet)
    assert sheet.sheet == "Sheet1"
    assert sheet.headers == rows[0]
    assert values(sheet, ROW_COL) == list(range(2, 203))
    assert values(sheet, "Customer ID")[0] == "12345678901234567002"  # 20 digits, as text
    assert values(sheet, "Phone")[0] == "0049151"
    assert set(values(sheet, "Zip")) == {"01234"}
    scores = dict(zip(values(sheet, ROW_COL), values(sheet, "Score"), strict=True))
    assert scores[200] == "2000"  # a whole number prints without ".0"
    assert scores[201] == "unknown"  # late text in a numeric column survives
    assert values(sheet, "Name")[:3] == [ARABIC, VIETNAMESE, CHINESE]
    assert set(values(sheet, "Joined")) == {"2024-01-31"}  # a real date cell, as ISO
    assert set(values(sheet, "Serial date")) == {"45000"}  # a serial number stays the number


def test_csv_keeps_every_value_exactly(write_text) -> None:
    rows = no_loss_rows()
    text = "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"
    sheet = read_upload(write_text("people.csv", text), file_name="people.csv")

    assert_all_text(sheet)
    assert sheet.sheet is None
    assert sheet.headers == rows[0]
    assert values(sheet, ROW_COL) == list(range(2, 203))
    assert sheet.frame.drop(ROW_COL).rows() == [tuple(r) for r in rows[1:]]


def test_a_second_read_of_the_same_workbook_reuses_the_parsed_sheet(make_xlsx, monkeypatch) -> None:
    """The dry run and the apply read the same upload: only the first pays for the child."""
    rows = [["Email", "Zip"], ["a@x.com", "01234"], ["b@x.com", "0049151"]]
    path = make_xlsx("twice.xlsx", {"Sheet1": rows})
    parses = []
    real = read_workbook._parse_in_child
    monkeypatch.setattr(read_workbook, "_parse_in_child", lambda *a, **k: parses.append(1) or real(*a, **k))

    first = read_upload(path, file_name="twice.xlsx")
    second = read_upload(path, file_name="twice.xlsx")
    changed = make_xlsx("twice.xlsx", {"Sheet1": [*rows, ["c@x.com", "99999"]]})
    third = read_upload(changed, file_name="twice.xlsx")

    assert len(parses) == 2  # the first read and the changed file; the second came from the cache
    assert second.frame.equals(first.frame) and values(second, "Zip") == ["01234", "0049151"]
    assert values(third, "Email") == ["a@x.com", "b@x.com", "c@x.com"]


def test_xlsx_numbers_dates_times_and_booleans_print_as_the_sheet_shows(make_xlsx) -> None:
    path = make_xlsx(
        "kinds.xlsx",
        {
            "Data": [
                ["Whole", "Decimal", "Date", "Date time", "Flag", "Negative zero"],
                [123, 1.5, dt.date(1999, 12, 31), dt.datetime(2024, 1, 31, 13, 45, 7), True, -0.0],
                [2**53, 0.1, dt.date(2000, 2, 29), dt.datetime(2024, 1, 31, 0, 0, 0), False, 0],
            ]
        },
    )
    sheet = read_upload(path, file_name="kinds.xlsx")
    assert sheet.frame.drop(ROW_COL).rows() == [
        ("123", "1.5", "1999-12-31", "2024-01-31T13:45:07", "true", "0"),
        ("9007199254740992", "0.1", "2000-02-29", "2024-01-31", "false", "0"),
    ]


def test_xlsx_formulas_give_cached_values_and_error_cells_are_empty_and_reported(make_xlsx) -> None:
    path = make_xlsx(
        "formulas.xlsx",
        {
            "Sheet1": [
                ["Email", "Total", "Lookup"],
                ["a@example.com", ("=1+1", 2), ("=VLOOKUP(1,B:B,1,0)", "#N/A")],
                ["b@example.com", ("=1/0", "#DIV/0!"), ('="00"&"12"', "0012")],
                ["c@example.com", 5, "#N/A"],  # text someone typed stays text
            ]
        },
    )
    sheet = read_upload(path, file_name="formulas.xlsx")
    assert values(sheet, "Total") == ["2", None, "5"]
    assert values(sheet, "Lookup") == [None, "0012", "#N/A"]
    assert [(e["row"], e["column"]) for e in sheet.cell_errors] == [(2, "Lookup"), (3, "Total")]
    assert "#N/A" in sheet.cell_errors[0]["message"] and "C2" in sheet.cell_errors[0]["message"]
    assert "#DIV/0!" in sheet.cell_errors[1]["message"]


# --------------------------------------------------------------- headers and rows


def test_headers_are_trimmed_named_by_position_and_made_unique(make_xlsx) -> None:
    path = make_xlsx(
        "headers.xlsx",
        {
            "Sheet1": [
                ["  Email ", None, "Email", "email", "Phone", "Email (2)", "  "],
                ["a@x.vn", "x", "b@x.vn", "c@x.vn", "1", "d@x.vn", "y"],
            ]
        },
    )
    sheet = read_upload(path, file_name="headers.xlsx")
    assert sheet.headers == ["Email", "Column 2", "Email (3)", "email (4)", "Phone", "Email (2)", "Column 7"]
    assert sheet.frame.row(0) == (2, "a@x.vn", "x", "b@x.vn", "c@x.vn", "1", "d@x.vn", "y")


def test_ragged_and_empty_rows_keep_true_row_numbers(make_xlsx) -> None:
    path = make_xlsx(
        "ragged.xlsx",
        {
            "Sheet1": [
                ["Email", "Name", "City"],
                ["a@x.vn"],
                [],
                [None, None, None],
                ["b@x.vn", "Bình", "Huế", "extra"],
                ["   "],
                ["c@x.vn", None, "Hà Nội"],
            ]
        },
    )
    sheet = read_upload(path, file_name="ragged.xlsx")
    assert sheet.headers == ["Email", "Name", "City", "Column 4"]
    assert sheet.frame.rows() == [
        (2, "a@x.vn", None, None, None),
        (5, "b@x.vn", "Bình", "Huế", "extra"),
        (7, "c@x.vn", None, "Hà Nội", None),
    ]


def test_header_below_blank_rows_keeps_sheet_row_numbers(make_xlsx) -> None:
    path = make_xlsx("offset.xlsx", {"Sheet1": [["Email", "Name"], ["a@x.vn", "An"]]}, start_row=2, start_col=1)
    sheet = read_upload(path, file_name="offset.xlsx")
    assert sheet.headers == ["Email", "Name"]
    assert sheet.frame.rows() == [(4, "a@x.vn", "An")]


# ------------------------------------------------------------------------ sheets


def test_several_sheets_need_a_pick_and_the_error_lists_them(make_xlsx) -> None:
    path = make_xlsx(
        "book.xlsx",
        {"Khách hàng": [["Email"], ["a@x.vn"]], "Orders": [["Id"], ["1"]], "Lookups": [["x"], ["y"]]},
        hidden=["Lookups"],
    )
    assert list_sheets(path, file_name="book.xlsx") == ["Khách hàng", "Orders"]
    error = rejected(path)
    assert '2 sheets ("Khách hàng", "Orders")' in error.reason and "choose" in error.reason
    assert read_upload(path, file_name="book.xlsx", sheet="Orders").frame.rows() == [(2, "1")]
    assert read_upload(path, file_name="book.xlsx", sheet="Lookups").headers == ["x"]


def test_unknown_sheet_is_refused_with_the_sheet_names(make_xlsx) -> None:
    path = make_xlsx("book.xlsx", {"People": [["Email"], ["a@x.vn"]], "Orders": [["Id"], ["1"]]})
    error = rejected(path, sheet="Customers")
    assert 'no sheet named "Customers"' in error.reason and '"People", "Orders"' in error.reason


def test_list_sheets_of_a_csv_is_empty(write_text) -> None:
    assert list_sheets(write_text("a.csv", "Email\na@x.vn\n"), file_name="a.csv") == []


# ------------------------------------------------------------- refused files


def test_empty_file_is_refused(tmp_path: Path) -> None:
    for name in ("empty.xlsx", "empty.csv"):
        (tmp_path / name).write_bytes(b"")
        assert rejected(tmp_path / name).reason == "the file is empty"


def test_xlsx_with_only_a_header_row_is_refused(make_xlsx) -> None:
    error = rejected(make_xlsx("header.xlsx", {"Sheet1": [["Email", "Name"]]}))
    assert "header row but no data rows" in error.reason


def test_csv_with_only_a_header_row_is_refused(write_text) -> None:
    assert "header row but no data rows" in rejected(write_text("header.csv", "Email,Name\n\n")).reason


def test_empty_sheet_is_refused(make_raw_xlsx) -> None:
    assert 'the sheet "Sheet1" is empty' in rejected(make_raw_xlsx("blank.xlsx", sheet_xml(""))).reason


def test_file_over_the_size_limit_is_refused(write_text, limits) -> None:
    limits(upload_max_bytes=1024 * 1024)
    path = write_text("big.csv", "Email\n" + "a@x.vn\n" * 200_000)
    assert "files up to 1 MB can be imported" in rejected(path).reason


def test_xlsx_over_the_row_limit_is_refused(make_xlsx, limits) -> None:
    limits(upload_max_rows=5)
    path = make_xlsx("rows.xlsx", {"Sheet1": [["Email"]] + [[f"u{i}@x.vn"] for i in range(6)]})
    assert (
        rejected(path).reason == "it has 6 data rows; at most 5 can be imported at once (split it into smaller files)"
    )


def test_csv_over_the_row_limit_is_refused(write_text, limits) -> None:
    limits(upload_max_rows=5)
    path = write_text("rows.csv", "Email\n" + "".join(f"u{i}@x.vn\n" for i in range(6)))
    assert "it has 6 data rows; at most 5" in rejected(path).reason


def test_csv_renamed_to_xlsx_is_refused(write_text) -> None:
    error = rejected(write_text("people.xlsx", "Email,Name\na@x.vn,An\n"))
    assert "plain text, not an Excel workbook" in error.reason and ".csv" in error.reason


def test_xlsx_renamed_to_csv_is_refused(make_xlsx, tmp_path: Path) -> None:
    path = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    renamed = path.rename(tmp_path / "people.csv")
    assert "Excel workbook or a zip archive, not .csv text" in rejected(renamed).reason


def test_pdf_renamed_to_xlsx_is_refused(tmp_path: Path) -> None:
    (tmp_path / "list.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    assert "a PDF document, not an Excel workbook" in rejected(tmp_path / "list.xlsx").reason


def test_word_document_renamed_to_xlsx_is_refused(tmp_path: Path) -> None:
    from .conftest import write_zip, zip_member

    write_zip(
        tmp_path / "letter.xlsx",
        [zip_member("[Content_Types].xml", "<Types/>"), zip_member("word/document.xml", "<document/>")],
    )
    assert "a Word document, not an Excel workbook" in rejected(tmp_path / "letter.xlsx").reason


def test_xlsx_named_xls_is_refused(make_xlsx, tmp_path: Path) -> None:
    path = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]}).rename(tmp_path / "people.xls")
    assert "rename it to .xlsx" in rejected(path).reason


def ole_file(*streams: str) -> bytes:
    """An OLE compound file's header and a directory sector naming `streams`."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
    entries = b"".join(name.encode("utf-16-le").ljust(64, b"\x00") + b"\x00" * 64 for name in ("Root Entry", *streams))
    return header.ljust(512, b"\x00") + entries.ljust(512, b"\x00")


def test_an_xls_that_is_only_an_ole_header_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(ole_file("Workbook", "\x05SummaryInformation"))
    assert "could not be read" in rejected(tmp_path / "old.xls").reason


def test_legacy_xls_renamed_to_xlsx_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.xlsx").write_bytes(ole_file("Workbook"))
    assert (
        "legacy Excel 97-2003 (.xls) workbook renamed to .xlsx; rename it to .xls"
        in rejected(tmp_path / "old.xlsx").reason
    )


def test_password_protected_xlsx_is_refused(tmp_path: Path) -> None:
    # Excel saves an encrypted .xlsx as an OLE container with these two streams
    (tmp_path / "secret.xlsx").write_bytes(ole_file("EncryptionInfo", "EncryptedPackage"))
    assert "password-protected (encrypted)" in rejected(tmp_path / "secret.xlsx").reason


def test_damaged_xlsx_is_refused(make_xlsx, tmp_path: Path) -> None:
    data = make_xlsx("whole.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]}).read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    assert "damaged" in rejected(tmp_path / "cut.xlsx").reason


def test_workbook_whose_sheet_part_is_missing_is_refused(make_raw_xlsx) -> None:
    from .conftest import WORKBOOK_RELS

    rels = WORKBOOK_RELS.replace("worksheets/sheet1.xml", "worksheets/gone.xml")
    path = make_raw_xlsx("broken.xlsx", sheet_xml(HEADER_ROW), extra={"xl/_rels/workbook.xml.rels": rels})
    assert "damaged: the sheet's part xl/worksheets/gone.xml is missing" in rejected(path).reason


def test_unsupported_file_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "people.numbers").write_bytes(b"PK\x03\x04whatever")
    assert ".numbers files cannot be imported" in rejected(tmp_path / "people.numbers").reason


def test_zip_bomb_by_unpacked_size_is_refused_without_unpacking(make_zip_bomb) -> None:
    path = make_zip_bomb("bomb.xlsx", megabytes=400)  # 400 MB of sheet XML in ~0.4 MB
    assert path.stat().st_size < 1024 * 1024
    error = rejected(path)
    assert "unpacks to 400 MB" in error.reason and "zip bomb" in error.reason


def test_zip_bomb_by_compression_ratio_is_refused(make_zip_bomb) -> None:
    error = rejected(make_zip_bomb("dense.xlsx", megabytes=40))
    assert re.search(r"compressed [0-9,]{3,} times over", error.reason) and "zip bomb" in error.reason


def _laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return "<!DOCTYPE lolz [" + "".join(entities) + "]>"


BILLION_LAUGHS = _laughs()


def test_xml_entity_bomb_in_the_sheet_is_refused(make_raw_xlsx) -> None:
    sheet = sheet_xml(
        f'<row r="1">{text_cell("A1", "Email")}</row><row r="2">{text_cell("A2", "&lol9;")}</row>',
        prolog=BILLION_LAUGHS,
    )
    error = rejected(make_raw_xlsx("laughs.xlsx", sheet))
    assert "xl/worksheets/sheet1.xml declares XML entities" in error.reason and "entity bomb" in error.reason


def test_xml_entity_bomb_in_the_shared_strings_is_refused(make_raw_xlsx) -> None:
    strings = (
        '<?xml version="1.0"?>'
        + BILLION_LAUGHS
        + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
    )
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    error = rejected(make_raw_xlsx("laughs.xlsx", sheet, extra={"xl/sharedStrings.xml": strings}))
    assert "sharedStrings.xml declares XML entities" in error.reason


def test_xml_entity_bomb_in_the_workbook_part_is_refused(make_raw_xlsx) -> None:
    from .conftest import WORKBOOK

    workbook = WORKBOOK.replace("<workbook ", BILLION_LAUGHS + "<workbook ", 1)
    error = rejected(make_raw_xlsx("laughs.xlsx", sheet_xml(""), workbook=workbook))
    assert "xl/workbook.xml declares XML entities" in error.reason


HEADER_ROW = f'<row r="1">{text_cell("A1", "Email")}</row><row r="2">{text_cell("A2", "a@x.vn")}</row>'


def test_value_in_cell_xfd1048576_is_refused_and_the_process_lives_on(make_raw_xlsx, make_xlsx) -> None:
    sheet = sheet_xml(HEADER_ROW + f'<row r="1048576">{number_cell("XFD1048576", 1)}</row>', dimension="A1:A2")
    path = make_raw_xlsx("hostile.xlsx", sheet)
    assert path.stat().st_size < 5 * 1024
    error = rejected(path)
    assert "cell XFD1048576" in error.reason and "far below" in error.reason
    # the same process reads the next file as usual
    good = make_xlsx("good.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    assert read_upload(good, file_name="good.xlsx").frame.rows() == [(2, "a@x.vn")]


def test_calamine_aborting_on_the_hostile_file_costs_only_the_child(make_raw_xlsx, make_xlsx) -> None:
    """Without the extent check calamine aborts its process: that process is the child."""
    sheet = sheet_xml(HEADER_ROW + f'<row r="1048576">{number_cell("XFD1048576", 1)}</row>')
    path = make_raw_xlsx("hostile.xlsx", sheet)
    book = read_workbook.open_workbook(path.read_bytes(), "hostile.xlsx")
    with pytest.raises(FileRejected) as caught:
        read_workbook.read_book_sheet(path.read_bytes(), "hostile.xlsx", book, book.sheets[0], check_extent=False)
    assert "could not be read" in caught.value.reason
    good = make_xlsx("good.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    assert read_upload(good, file_name="good.xlsx").frame.rows() == [(2, "a@x.vn")]


@pytest.mark.parametrize(
    "far",
    [
        '<row r="200000"><c><v>1</v></c></row>',  # cells without references: judged by the row
        "<row r='9'><c r='A250000'><v>1</v></c></row>",  # single quotes, one letter
        '<row r="9">\n<c\nr="XFD1048576"\nt="inlineStr"><is><t>x</t></is></c></row>',  # new lines
    ],
)
@pytest.mark.parametrize("chunk_bytes", [97, 1 << 20])
def test_sheet_scan_finds_far_values_across_chunk_borders(
    make_raw_xlsx, monkeypatch: pytest.MonkeyPatch, far: str, chunk_bytes: int
) -> None:
    import zipfile

    from profile_ui.services.importing import sandbox

    monkeypatch.setattr(sandbox, "CHUNK_BYTES", chunk_bytes)
    rows = "".join(
        f'<row r="{r}">{text_cell(f"A{r}", "x")}<c r="B{r}" t="e"><v>#N/A</v></c></row>' for r in range(2, 60)
    )
    header = f'<row r="1">{text_cell("A1", "Email")}{text_cell("B1", "Lookup")}</row>'
    path = make_raw_xlsx("scan.xlsx", sheet_xml(header + rows))
    with zipfile.ZipFile(path) as archive:
        scan = sandbox.scan_sheet(archive, "xl/worksheets/sheet1.xml", row_threshold=100_000, max_columns=702)
    assert [(c["ref"], c["value"]) for c in scan.error_cells] == [(f"B{r}", "#N/A") for r in range(2, 60)]
    assert scan.column_a_has_value
    path = make_raw_xlsx("far.xlsx", sheet_xml(header + rows + far))
    with zipfile.ZipFile(path) as archive, pytest.raises(sandbox.Rejected, match="far below"):
        sandbox.scan_sheet(archive, "xl/worksheets/sheet1.xml", row_threshold=100_000, max_columns=702)


def test_value_far_to_the_right_is_refused(make_raw_xlsx) -> None:
    sheet = sheet_xml(HEADER_ROW + f'<row r="3">{number_cell("A3", 1)}{number_cell("AMJ3", 1)}</row>')
    error = rejected(make_raw_xlsx("wide.xlsx", sheet))
    assert "cell AMJ3 (column 1,024)" in error.reason and "at most 702 columns" in error.reason


def test_formatting_far_away_without_values_is_read(make_raw_xlsx) -> None:
    """Styled empty cells (and a stale <dimension>) are harmless: calamine skips them."""
    sheet = sheet_xml(
        HEADER_ROW + '<row r="1048576"><c r="XFD1048576" s="1"/><c r="XFC1048576" s="1"></c></row>',
        dimension="A1:XFD1048576",
    )
    sheet_data = read_upload(make_raw_xlsx("styled.xlsx", sheet), file_name="styled.xlsx")
    assert sheet_data.frame.rows() == [(2, "a@x.vn")]


def test_stale_dimension_does_not_hide_rows(make_raw_xlsx) -> None:
    rows = HEADER_ROW + "".join(f'<row r="{r}">{text_cell(f"A{r}", f"u{r}@x.vn")}</row>' for r in range(3, 11))
    sheet = read_upload(make_raw_xlsx("stale.xlsx", sheet_xml(rows, dimension="A1:A2")), file_name="stale.xlsx")
    assert sheet.frame.height == 9


def test_reader_that_runs_too_long_is_stopped(make_xlsx, monkeypatch: pytest.MonkeyPatch) -> None:
    # the child really hangs (it waits forever), so only the timeout can end it; the
    # workbook's content is its own, so no grid an earlier read cached can answer instead
    monkeypatch.setattr(read_workbook, "CHILD_MODULE", "tests.unit.services.importing.hanging_reader")
    monkeypatch.setattr(read_workbook, "CHILD_TIMEOUT_SECONDS", 0.5)
    error = rejected(make_xlsx("slow.xlsx", {"Sheet1": [["Email"], [f"{uuid.uuid4().hex}@x.vn"]]}))
    assert "could not be read within 0.5 seconds" in error.reason


def test_reader_out_of_memory_is_reported_as_unreadable(make_xlsx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_workbook, "CHILD_MEMORY_BYTES", 64 * 1024 * 1024)
    workbook = make_xlsx("big.xlsx", {"Sheet1": [["Email"], [f"{uuid.uuid4().hex}@x.vn"]]})  # not in the cache
    assert "could not be read" in rejected(workbook).reason


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
    ],
)
def test_csv_encodings_are_detected(write_text, encoding: str, bom: bytes) -> None:
    text = f"Email,Name\r\na@x.vn,{VIETNAMESE}\r\nb@x.vn,{CHINESE} {ARABIC}\r\n"
    sheet = read_upload(write_text("people.csv", text, encoding=encoding, bom=bom), file_name="people.csv")
    assert sheet.headers == ["Email", "Name"]  # no BOM left in the first header
    assert values(sheet, "Name") == [VIETNAMESE, f"{CHINESE} {ARABIC}"]


def test_csv_in_windows_1252_is_detected(write_text) -> None:
    path = write_text("legacy.csv", "Name;Price\nCafé Müller;5 €\nJosé;“quoted”\n", encoding="cp1252")
    sheet = read_upload(path, file_name="legacy.csv")
    assert sheet.frame.drop(ROW_COL).rows() == [("Café Müller", "5 €"), ("José", "“quoted”")]


def test_csv_in_latin_1_is_read(write_text, tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes(b"Name,Code\nJ\xf6rg,\x81\n")  # 0x81: not cp1252
    sheet = read_upload(tmp_path / "latin.csv", file_name="latin.csv")
    assert sheet.frame.drop(ROW_COL).rows() == [("Jörg", "\x81")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected(write_text, delimiter: str) -> None:
    rows = [["Email", "Amount", "Note"], ["a@x.vn", "1,5", "x;y"], ["b@x.vn", "2", "a|b"], ["c@x.vn", "3", "t"]]
    rows = [[f'"{v}"' if delimiter in v else v for v in row] for row in rows]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    sheet = read_upload(write_text("people.csv", text), file_name="people.csv")
    assert sheet.headers == ["Email", "Amount", "Note"]
    assert values(sheet, "Amount") == ["1,5", "2", "3"]
    assert values(sheet, "Note") == ["x;y", "a|b", "t"]


def test_csv_quoted_newlines_are_kept_and_row_numbers_count_records(write_text) -> None:
    text = 'Email,Address\r\na@x.vn,"12 Lê Lợi\r\nQuận 1"\r\nb@x.vn,"say ""hi"""\r\n\r\nc@x.vn,\r\n'
    sheet = read_upload(write_text("addr.csv", text), file_name="addr.csv")
    assert sheet.frame.rows() == [(2, "a@x.vn", "12 Lê Lợi\r\nQuận 1"), (3, "b@x.vn", 'say "hi"'), (5, "c@x.vn", None)]


def test_csv_ragged_rows_are_padded_even_far_down(write_text) -> None:
    lines = ["Email,Name"] + [f"u{i}@x.vn" for i in range(3000)] + ["last@x.vn,Last,extra"]
    sheet = read_upload(write_text("ragged.csv", "\n".join(lines)), file_name="ragged.csv")
    assert sheet.headers == ["Email", "Name", "Column 3"]
    assert sheet.frame.row(0) == (2, "u0@x.vn", None, None)
    assert sheet.frame.row(-1) == (3002, "last@x.vn", "Last", "extra")


def test_csv_stray_quotes_are_read_as_spreadsheet_programs_read_them(write_text) -> None:
    text = 'Product,Buyer\n27" screen,"Bob" Smith\n"Lamp, red",An\n'
    sheet = read_upload(write_text("quotes.csv", text), file_name="quotes.csv")
    assert sheet.frame.rows() == [(2, '27" screen', "Bob Smith"), (3, "Lamp, red", "An")]


def test_csv_excel_separator_line_is_honoured(write_text) -> None:
    sheet = read_upload(write_text("sep.csv", "sep=;\nEmail;Name\na@x.vn;An, B\n"), file_name="sep.csv")
    assert sheet.frame.rows() == [(2, "a@x.vn", "An, B")]


def test_csv_with_binary_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 8)
    assert "binary data" in rejected(tmp_path / "blob.csv").reason


def test_csv_of_blank_lines_is_refused(write_text) -> None:
    assert "no data" in rejected(write_text("blank.csv", "\n\n  \n")).reason


# ------------------------------------------------------------------------- paste


def test_pasted_cells_are_read_by_position_without_a_header() -> None:
    text = f'a@x.vn\t0049151\t{VIETNAMESE}\r\n\r\nb@x.vn\t\t"two\nlines"\r\nc@x.vn\r\n'
    sheet = read_pasted(text)
    assert sheet.file_name == PASTED_FILE_NAME and sheet.sheet is None
    assert sheet.headers == ["Column 1", "Column 2", "Column 3"]
    assert_all_text(sheet)
    assert sheet.frame.rows() == [
        (1, "a@x.vn", "0049151", VIETNAMESE),
        (3, "b@x.vn", None, "two\nlines"),
        (4, "c@x.vn", None, None),
    ]


def test_pasted_cells_with_quote_marks_keep_them() -> None:
    assert read_pasted('27" screen\t"a ""b"""\n').frame.rows() == [(1, '27" screen', 'a "b"')]


def test_paste_of_1000_rows_is_read_and_1001_refused() -> None:
    assert read_pasted("".join(f"u{i}@x.vn\t{i}\n" for i in range(1000))).frame.height == 1000
    with pytest.raises(FileRejected) as caught:
        read_pasted("".join(f"u{i}@x.vn\t{i}\n" for i in range(1001)))
    assert str(caught.value).startswith(f"{PASTED_FILE_NAME}: 1,001 rows")
    assert "at most 1,000" in caught.value.reason


def test_paste_with_its_header_row_counts_data_rows_only() -> None:
    header = "Email\tName\n"
    sheet = read_pasted(header + "".join(f"u{i}@x.vn\t{i}\n" for i in range(1000)), has_header=True)
    assert sheet.headers == ["Email", "Name"] and sheet.frame.height == 1000
    with pytest.raises(FileRejected) as caught:
        read_pasted(header + "".join(f"u{i}@x.vn\t{i}\n" for i in range(1001)), has_header=True)
    assert caught.value.reason == (
        "1,001 rows were pasted; at most 1,000 can be pasted at once (import a file for more)"
    )


def test_limit_messages_name_the_size_and_the_limit() -> None:
    from profile_ui.services.importing import limits

    mb = 1024 * 1024
    assert limits.too_large(int(10.8 * mb), 10 * mb) == "the file is 10.8 MB; files up to 10 MB can be imported"
    assert limits.too_large(300_000, 200_000) == "the file is 293 KB; files up to 195 KB can be imported"
    # sizes that round alike are given in bytes
    assert limits.too_large(10 * mb + 5, 10 * mb) == (
        "the file is 10,485,765 bytes; files up to 10,485,760 bytes can be imported"
    )
    assert limits.too_many_rows(50_001, 50_000).startswith("it has 50,001 data rows; at most 50,000")


def test_empty_paste_is_refused() -> None:
    with pytest.raises(FileRejected) as caught:
        read_pasted(" \n\t\n")
    assert caught.value.reason == "nothing was pasted"


def test_reading_writes_nothing_but_its_own_temporary_files(make_xlsx, tmp_path: Path) -> None:
    path = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    before = sorted(os.listdir(tmp_path))
    read_upload(path, file_name="people.xlsx")
    rejected(make_xlsx("header.xlsx", {"Sheet1": [["Email"]]}))
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["header.xlsx"])
