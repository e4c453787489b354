"""Legacy .xls, binary .xlsb and OpenDocument .ods: read through the same sandboxed child
as .xlsx, with the same limits, and refused whole when hostile (issue 11, item 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profile_ui.services.importing import read_workbook
from profile_ui.services.importing.read import FileRejected, list_sheets, read_upload

from .books import ods_content, write_ods, write_xls, write_xlsb

ROWS = [["Email", "Zip", "Name"], ["a@x.vn", "01234", "Nguyễn Thị Ánh Tuyết"], ["b@x.vn", "0049151", "张伟"]]


def rejected(path: Path) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        read_upload(path, file_name=path.name)
    assert caught.value.file_name == path.name
    return caught.value


@pytest.fixture
def books(tmp_path: Path) -> dict[str, Path]:
    return {
        ".xls": write_xls(tmp_path / "people.xls", {"People": ROWS}),
        ".ods": write_ods(tmp_path / "people.ods", {"People": ROWS}),
        ".xlsb": write_xlsb(tmp_path / "people.xlsb", ROWS, sheet="People"),
    }


@pytest.mark.parametrize("suffix", [".xls", ".ods", ".xlsb"])
def test_other_workbooks_are_read_as_text_like_xlsx(books, suffix: str) -> None:
    path = books[suffix]
    assert list_sheets(path, file_name=path.name) == ["People"]
    sheet = read_upload(path, file_name=path.name)
    assert sheet.headers == ["Email", "Zip", "Name"]
    assert sheet.frame.rows() == [(2, "a@x.vn", "01234", "Nguyễn Thị Ánh Tuyết"), (3, "b@x.vn", "0049151", "张伟")]


def test_a_workbook_with_several_sheets_needs_one_chosen(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "months.xls", {"Jan": [["Email"], ["jan@x.vn"]], "Feb": [["Email"], [42]]})
    assert list_sheets(path, file_name="months.xls") == ["Jan", "Feb"]
    assert 'the workbook has 2 sheets ("Jan", "Feb")' in rejected(path).reason
    assert read_upload(path, file_name="months.xls", sheet="Feb").frame.rows() == [(2, "42")]


@pytest.mark.parametrize("suffix", [".xls", ".ods", ".xlsb"])
def test_the_row_and_size_limits_hold(books, limits, suffix: str) -> None:
    limits(upload_max_rows=1)
    assert "it has 2 data rows; at most 1 can be imported" in rejected(books[suffix]).reason
    limits(upload_max_rows=50_000, upload_max_bytes=100)
    assert "files up to 100 bytes can be imported" in rejected(books[suffix]).reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("scan.xls", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document, not a spreadsheet"),
        ("scan.ods", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document, not a spreadsheet"),
        ("scan.xlsb", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document, not a spreadsheet"),
        ("list.xls", b"Email,Name\na@x.vn,A\n", "plain text, not an .xls workbook"),
        (
            "page.xls",
            b"<html><table><tr><td>a</td></tr></table></html>",
            "a web page (HTML/XML) saved with an .xls name",
        ),
        (
            "old.xlsb",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            "an Excel 97-2003 (.xls) workbook, not .xlsb",
        ),
    ],
)
def test_renamed_files_are_refused(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    assert reason in rejected(tmp_path / name).reason


def test_packages_of_another_kind_are_refused(make_xlsx, tmp_path: Path) -> None:
    xlsx = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    assert "not an OpenDocument spreadsheet" in rejected(xlsx.rename(tmp_path / "people.ods")).reason
    xlsx = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    assert "no xl/workbook.bin" in rejected(xlsx.rename(tmp_path / "people.xlsb")).reason
    xlsx = make_xlsx("people.xlsx", {"Sheet1": [["Email"], ["a@x.vn"]]})
    assert "an .xlsx workbook named .xls" in rejected(xlsx.rename(tmp_path / "people.xls")).reason


@pytest.mark.parametrize("suffix", [".ods", ".xlsb"])
def test_zip_bombs_are_refused_from_the_directory(make_zip_bomb, tmp_path: Path, suffix: str) -> None:
    bomb = make_zip_bomb("bomb.xlsx", megabytes=400).rename(tmp_path / f"bomb{suffix}")
    error = rejected(bomb)
    assert "unpacks to 400 MB" in error.reason and "zip bomb" in error.reason


def test_an_ods_declaring_entities_is_refused(tmp_path: Path) -> None:
    prolog = '<!DOCTYPE office:document-content [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    path = write_ods(tmp_path / "bomb.ods", content=ods_content({"S": [["Email"], ["&b;"]]}, prolog=prolog))
    assert "declares XML entities (a DTD)" in rejected(path).reason


def test_a_damaged_xls_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "damaged.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8)
    assert "could not be read" in rejected(path).reason


def test_a_dangling_sheet_in_an_xlsb_costs_only_the_child(tmp_path: Path) -> None:
    """calamine panics on a sheet whose relationship is missing: that process is the child."""
    path = write_xlsb(tmp_path / "dangling.xlsb", [["Email"], ["a@x.vn"]], relationship="rId9")
    assert "could not be read" in rejected(path).reason


@pytest.mark.parametrize("suffix", [".xlsb", ".ods"])
def test_a_value_far_away_is_stopped_by_the_childs_memory_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(read_workbook, "CHILD_MEMORY_BYTES", 512 * 1024 * 1024)
    if suffix == ".xlsb":
        path = write_xlsb(tmp_path / "far.xlsb", [["Email"], ["a@x.vn"]], far_cell=(1_048_575, 16_383))
    else:
        far = (
            '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
            'table:number-columns-repeated="16000" office:value-type="string"><text:p>x</text:p>'
            "</table:table-cell></table:table-row>"
        )
        path = write_ods(tmp_path / "far.ods", content=ods_content({"S": [["Email"], ["a@x.vn"]]}, tail_rows=far))
    assert "could not be read" in rejected(path).reason
