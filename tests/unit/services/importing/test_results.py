"""Stored row results, totals and the error file (csv and xlsx)."""

from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest

from profile_ui.services.importing import ROW_COL
from profile_ui.services.importing.results import (
    ResultsError,
    field_changes,
    plan_errors,
    row_results,
    stored_errors,
    totals,
    write_error_file,
)
from profile_ui.services.permissions import PermissionDenied

from .frames import MARKETER, VIEWER, ensure_custom_fields, rule, run_import, seed_profiles, validated


@pytest.fixture
def finished(session):
    ensure_custom_fields(session)
    seed_profiles(session, [{"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi"}])
    session.commit()
    frame = validated(
        [
            {"email": "ann@x.com", "city": "Saigon"},
            {"email": "bad", "errors": [("E-mail", "not a valid e-mail address")]},
            {"email": "new@x.com", "full_name": "New"},
            {"email": "x", "errors": [("E-mail", "not a valid e-mail address"), ("DOB", "not a date")]},
        ]
    )
    job, plan = run_import(session, frame, sync=rule(session, ["email"]))
    return job, plan


def test_row_results_pages_and_filters(session, finished):
    job, _plan = finished
    rows, total = row_results(session=session, actor=MARKETER, job_id=job.id, offset=1, limit=2)
    assert total == 4 and [r["row_number"] for r in rows] == [3, 4]
    invalid, n = row_results(session=session, actor=MARKETER, job_id=job.id, outcome="invalid")
    assert n == 2 and [r["row_number"] for r in invalid] == [3, 5]
    updated, _ = row_results(session=session, actor=MARKETER, job_id=job.id, outcome="updated")
    assert field_changes(updated[0]["changes"]) == {"city": ["Hanoi", "Saigon"]}
    with pytest.raises(ResultsError):
        row_results(session=session, actor=MARKETER, job_id=job.id, outcome="exploded")
    with pytest.raises(PermissionDenied):
        row_results(session=session, actor=VIEWER, job_id=job.id)


def test_totals(session, finished):
    job, _plan = finished
    figures = totals(session=session, actor=MARKETER, job_id=job.id)
    assert {k: figures[k] for k in ("rows", "created", "updated", "invalid", "rows_invalid", "rows_new")} == {
        "rows": 4,
        "created": 1,
        "updated": 1,
        "invalid": 2,
        "rows_invalid": 2,
        "rows_new": 1,
    }
    assert stored_errors(session=session, actor=MARKETER, job_id=job.id)[5] == [
        {"column": "E-mail", "message": "not a valid e-mail address"},
        {"column": "DOB", "message": "not a date"},
    ]


def _sheet() -> SimpleNamespace:
    """A file as read: every value text, exactly as in the file (leading zeros, formulas as text)."""
    headers = ["Name", "E-mail", "Zip", "Note"]
    frame = pl.DataFrame(
        {
            ROW_COL: [2, 3, 4, 5],
            "Name": ["Ann", "Nguyễn Văn Bình", "Cy", None],
            "E-mail": ["ann@x.com", "binh@", "cy@x.com", "dee"],
            "Zip": ["01234", "007", "99", "0049151"],
            "Note": [None, '=HYPERLINK("http://x")', "ok", 'a, "quoted"\nline'],
        }
    )
    return SimpleNamespace(headers=headers, frame=frame)


ERRORS = {
    3: [{"column": "E-mail", "message": "not a valid e-mail address"}],
    5: [{"column": "E-mail", "message": "not a valid e-mail address"}, {"column": "", "message": "no identifier"}],
}


def test_error_file_csv_has_the_invalid_rows_as_they_came_in(tmp_path):
    path = write_error_file(_sheet(), ERRORS, tmp_path / "errors.csv", "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns == ["Row", "Name", "E-mail", "Zip", "Note", "Reasons"]
    assert back.rows() == [  # a formula keeps its text, made inert for a spreadsheet
        ("3", "Nguyễn Văn Bình", "binh@", "007", '\'=HYPERLINK("http://x")', "E-mail: not a valid e-mail address"),
        ("5", None, "dee", "0049151", 'a, "quoted"\nline', "E-mail: not a valid e-mail address; no identifier"),
    ]


def test_error_file_xlsx_keeps_text_as_text(tmp_path):
    path = write_error_file(_sheet(), ERRORS, tmp_path / "errors.xlsx", "xlsx")
    sheet = openpyxl.load_workbook(path).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Row", "Name", "E-mail", "Zip", "Note", "Reasons"]
    assert rows[1] == [
        3,
        "Nguyễn Văn Bình",
        "binh@",
        "007",
        '=HYPERLINK("http://x")',
        "E-mail: not a valid e-mail address",
    ]
    assert sheet.cell(row=2, column=5).data_type == "s"  # a string, never a formula
    assert rows[2][0] == 5 and rows[2][3] == "0049151" and len(rows) == 3


def test_error_file_from_a_plan_and_a_clashing_reasons_header(session, finished, tmp_path):
    _job, plan = finished
    sheet = SimpleNamespace(
        headers=["Row", "Email", "Reasons"],
        frame=pl.DataFrame(
            {
                ROW_COL: [2, 3, 4, 5],
                "Row": ["a", "b", "c", "d"],
                "Email": ["ann@x.com", "bad", "new@x.com", "x"],
                "Reasons": ["", "", "", "mine"],
            }
        ),
    )
    path = write_error_file(sheet, plan_errors(plan), tmp_path / "e.csv", "csv")
    back = pl.read_csv(path, infer_schema=False)
    assert back.columns == ["Row (2)", "Row", "Email", "Reasons", "Reasons (2)"]
    assert back["Row (2)"].to_list() == ["3", "5"] and back["Row"].to_list() == ["b", "d"]
    assert back["Email"].to_list() == ["bad", "x"]
    assert back["Reasons (2)"].to_list()[1] == "E-mail: not a valid e-mail address; DOB: not a date"
    with pytest.raises(ResultsError):
        write_error_file(sheet, {}, tmp_path / "e.pdf", "pdf")


def test_an_error_file_csv_reads_back_as_the_rows_came_in(tmp_path):
    """The ' that makes a formula inert in the CSV is taken off when the file is uploaded again."""
    from profile_ui.services.importing.read import read_upload

    sheet = SimpleNamespace(
        headers=["=Name", "Phone", "Note"],
        frame=pl.DataFrame(
            {
                ROW_COL: [2, 3],
                "=Name": ["'Tis Ann", "Bo"],
                "Phone": ["+84 905 123 456", "-"],
                "Note": ['=HYPERLINK("http://x")', "@home"],
            }
        ),
    )
    path = write_error_file(sheet, {2: ["bad"], 3: ["bad"]}, tmp_path / "errors.csv", "csv")
    back = read_upload(str(path), file_name="errors.csv")
    assert back.headers == ["Row", "=Name", "Phone", "Note", "Reasons"]
    assert back.frame.drop(ROW_COL, "Row", "Reasons").rows() == [
        ("'Tis Ann", "+84 905 123 456", '=HYPERLINK("http://x")'),
        ("Bo", "-", "@home"),
    ]
