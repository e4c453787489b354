"""The import wizard in the browser: upload, map, review values, preview, confirm, the
report page with its progress, undo; refused files; a viewer kept out."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import FieldDefinition

from .helpers import RunningApp, app_db, sign_in_page
from .import_files import jobs_for, profile_by_email, write_csv, write_xlsx
from .wizard_steps import JOB_TIMEOUT, next_step, open_wizard, upload

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def importer(browser, base_url: str):
    """The admin, signed in once for this module (no seeded profiles needed)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    sign_in_page(page, base_url, "admin")
    yield page
    context.close()


_open_wizard, _upload, _next = open_wizard, upload, next_step


def _upload_to_mapping(page: Page, base_url: str, path: Path) -> None:
    """A new wizard with one file, on its mapping step (the Email column is the identifier)."""
    _open_wizard(page, base_url)
    _upload(page, path)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Field for Email")).to_have_value("identity:email", timeout=JOB_TIMEOUT)


def _preview_and_confirm(page: Page) -> None:
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("button", name="Confirm import")).to_be_visible(timeout=JOB_TIMEOUT)
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))


def _wait_completed(page: Page) -> None:
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)


def test_clean_xlsx_import_with_value_map_and_template(
    importer: Page, base_url: str, running_app: RunningApp, tmp_path: Path
) -> None:
    page = importer
    first = write_xlsx(
        tmp_path / "club members.xlsx",
        {
            "Members": [
                ["Full name", "E-mail", "Gender", "City"],
                ["Ngô Bảo Anh", "bao.anh@wizard.example.com", "female", "Hà Nội"],
                ["Đinh Công Bình", "cong.binh@wizard.example.com", "male", "Huế"],
                ["Kha Mộc", "kha.moc@wizard.example.com", "khác-x", "Vinh"],
            ]
        },
    )
    _open_wizard(page, base_url)
    _upload(page, first)
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("club members.xlsx")
    page.get_by_role("button", name="Next").click()

    # map: suggestions preselected, e-mail is the identifier
    expect(page.get_by_label("Field for E-mail")).to_have_value("identity:email")
    expect(page.get_by_label("Field for Gender")).to_have_value("gender")
    expect(page.get_by_label("Identify by E-mail")).to_be_checked()
    expect(page.get_by_role("row", name=re.compile("Full name"))).to_contain_text("Ngô Bảo Anh")
    page.get_by_role("button", name="Next").click()

    # values: matching words map male/female; the odd one is mapped by hand
    page.get_by_role("button", name="Map values with matching words").click()
    expect(page.get_by_label("Gender value for female")).to_have_value("Female")
    expect(page.get_by_text("Unmapped values: khác-x")).to_be_visible()
    page.get_by_label("Gender value for khác-x").select_option("Other")
    expect(page.get_by_text("Unmapped values")).to_have_count(0)
    expect(page.get_by_text("Reviewed")).to_be_visible()
    page.get_by_role("button", name="Next").click()

    # options: the mapping with its value map is saved as a template
    page.get_by_label("Template name").fill("Club members")
    page.get_by_role("button", name="Save as template").click()
    expect(page.get_by_text("Template “Club members” saved")).to_be_visible()

    # options -> preview (dry run) -> confirm
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("list", name="Totals")).to_contain_text("3 rows: 3 new", timeout=JOB_TIMEOUT)
    expect(page.get_by_role("table")).to_contain_text("new")
    assert profile_by_email(running_app, "bao.anh@wizard.example.com") is None  # a dry run
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    _wait_completed(page)
    expect(page.get_by_label("Totals")).to_contain_text("3 new")
    moc = profile_by_email(running_app, "kha.moc@wizard.example.com")
    assert moc is not None and moc.gender == "Other" and moc.city == "Vinh"
    assert profile_by_email(running_app, "bao.anh@wizard.example.com").gender == "Female"

    # a second file with the same columns (other order and case): the template is offered
    second = write_xlsx(
        tmp_path / "club members 2.xlsx",
        {
            "Members": [
                ["city", "Gender", "e-mail", "FULL NAME"],
                ["Đà Lạt", "khác-x", "thu.ha@wizard.example.com", "Lò Thu Hà"],
            ]
        },
    )
    _open_wizard(page, base_url)
    _upload(page, second)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("A saved template matches these columns: Club members")).to_be_visible()
    page.get_by_role("button", name="Use template").click()
    expect(page.get_by_text("Applied", exact=True)).to_be_visible()
    page.get_by_role("button", name="Next").click()
    # the template's value map came with it
    expect(page.get_by_label("Gender value for khác-x")).to_have_value("Other")
    page.get_by_role("button", name="Next").click()
    _preview_and_confirm(page)
    _wait_completed(page)
    assert profile_by_email(running_app, "thu.ha@wizard.example.com").gender == "Other"


def test_csv_with_invalid_rows(importer: Page, base_url: str, running_app: RunningApp, tmp_path: Path) -> None:
    page = importer
    path = write_csv(
        tmp_path / "leads with errors.csv",
        [
            ["Name", "Email", "Date of birth"],
            ["Hồ Valid", "ho.valid@invalid-rows.example.com", "1990-05-01"],
            ["Bad Mail", "not-an-address", "1991-01-01"],
            ["Bad Date", "bad.date@invalid-rows.example.com", "31/31/1990"],
            ["Tô Valid", "to.valid@invalid-rows.example.com", ""],
        ],
    )
    _upload_to_mapping(page, base_url, path)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Preview").click()
    totals = page.get_by_role("list", name="Totals")
    expect(totals).to_contain_text("2 invalid", timeout=JOB_TIMEOUT)
    page.get_by_label("Show rows").select_option("invalid")
    table = page.get_by_role("table")
    expect(table.get_by_role("row", name=re.compile(r"^3 invalid"))).to_contain_text("Email")
    expect(table.get_by_role("row", name=re.compile(r"^4 invalid"))).to_contain_text("Date of birth")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the error file").click()
    error_file = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert "not-an-address" in error_file and "31/31/1990" in error_file
    assert "Hồ Valid" not in error_file
    # the first column is each row's number in the spreadsheet, to find it in the original
    rows = list(csv.reader(io.StringIO(error_file)))
    assert rows[0][:2] == ["Row", "Name"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("3", "not-an-address"), ("4", "bad.date@invalid-rows.example.com")]
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    _wait_completed(page)
    expect(page.get_by_role("button", name="Download the error file")).to_be_visible()
    # the report says until when the error file lives (IMPORT_ERROR_FILE_HOURS)
    expect(page.get_by_label("Error file")).to_contain_text(
        re.compile(r"can be downloaded until \d{4}-\d\d-\d\d \d\d:\d\d UTC; then it is deleted")
    )
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the error file").click()
    assert "not-an-address" in Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    page.get_by_label("Show rows").select_option("invalid")
    expect(page.get_by_role("table")).to_contain_text("Date of birth")
    assert profile_by_email(running_app, "ho.valid@invalid-rows.example.com") is not None
    assert profile_by_email(running_app, "to.valid@invalid-rows.example.com") is not None
    assert profile_by_email(running_app, "bad.date@invalid-rows.example.com") is None


def test_refused_files_say_which_and_why(importer: Page, base_url: str, tmp_path: Path) -> None:
    from .helpers import UPLOAD_MAX_ROWS

    page = importer
    renamed = tmp_path / "scan.csv"
    renamed.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    _open_wizard(page, base_url)
    _upload(page, renamed, accepted=False)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("scan.csv: its content is")
    expect(page.get_by_role("list", name="Files to import")).to_have_count(0)

    # a later file over the row limit is named when the files are read, and left out
    good = write_csv(tmp_path / "good.csv", [["Email"], ["good@rows.example.com"]])
    too_long = write_csv(
        tmp_path / "too many rows.csv", [["Email"], *[[f"p{n}@rows.example.com"] for n in range(UPLOAD_MAX_ROWS + 1)]]
    )
    _upload(page, good, too_long)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"too many rows.csv: it has {UPLOAD_MAX_ROWS + 1:,} data rows; at most {UPLOAD_MAX_ROWS:,}"
    )
    files = page.get_by_role("list", name="Files to import")
    expect(files).to_contain_text("good.csv")
    expect(files).not_to_contain_text("too many rows.csv")
    page.get_by_role("button", name="Remove good.csv").click()
    expect(files).to_have_count(0)

    workbook = write_xlsx(
        tmp_path / "two sheets.xlsx",
        {
            "January": [["Email"], ["jan@sheets.example.com"]],
            "February": [["Email"], ["feb@sheets.example.com"]],
        },
    )
    _upload(page, workbook)
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("two sheets.xlsx")
    _next(page, "Sheet")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("two sheets.xlsx has several sheets: pick the one to import")
    page.get_by_label("Sheet of two sheets.xlsx").select_option("February")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Field for Email")).to_have_value("identity:email")
    expect(page.get_by_role("row", name=re.compile("Email"))).to_contain_text("feb@sheets.example.com")


def test_two_files_run_in_order_and_progress_survives_reload(
    importer: Page, base_url: str, running_app: RunningApp, tmp_path: Path
) -> None:
    page = importer
    first = write_csv(
        tmp_path / "batch one.csv",
        [
            ["Email", "Name", "City"],
            ["one.a@batch.example.com", "One A", "Huế"],
            ["one.b@batch.example.com", "One B", "Huế"],
        ],
    )
    second = write_csv(
        tmp_path / "batch two.csv",
        [
            ["Email", "Name", "City"],
            ["two.a@batch.example.com", "Two A", "Vinh"],
            ["one.a@batch.example.com", "One A", "Vinh"],
        ],
    )
    _open_wizard(page, base_url)
    _upload(page, first, second)
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("batch two.csv")
    _next(page, "Identify and map columns")
    _next(page, "Options")
    page.get_by_role("button", name="Preview").click()
    totals = page.get_by_role("list", name="Totals")
    expect(totals).to_contain_text("batch two.csv", timeout=JOB_TIMEOUT)
    expect(totals).to_contain_text("2 rows: 2 new", timeout=JOB_TIMEOUT)
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    first_report = page.url
    page.reload()
    _wait_completed(page)
    expect(page.get_by_text("2 of 2 rows")).to_be_visible()
    expect(page.get_by_label("Import progress")).to_be_visible()
    # a second tab shows the same report
    other = page.context.new_page()
    other.goto(first_report)
    _wait_completed(other)
    expect(other.get_by_text("2 of 2 rows")).to_be_visible()
    other.close()
    [one], [two] = jobs_for(running_app, "batch one.csv"), jobs_for(running_app, "batch two.csv")
    assert one.batch_id == two.batch_id and one.position < two.position
    # the second file ran after the first: its e-mail met the profile the first created
    page.goto(f"{base_url}/imports/{two.id}")
    _wait_completed(page)
    expect(page.get_by_label("Totals")).to_contain_text("1 new, 1 updated")
    assert one.finished_at is None or two.finished_at is None or one.finished_at <= two.finished_at
    assert profile_by_email(running_app, "one.a@batch.example.com").city == "Vinh"
    # the history lists both, newest first
    page.goto(f"{base_url}/imports")
    table = page.get_by_role("table")
    expect(table).to_contain_text("batch one.csv")
    expect(table.get_by_role("row", name=re.compile("batch two.csv"))).to_contain_text("completed")


def test_an_unmatched_column_becomes_a_new_custom_field(
    importer: Page, base_url: str, running_app: RunningApp, tmp_path: Path
) -> None:
    page = importer
    path = write_csv(
        tmp_path / "shoe sizes.csv",
        [
            ["Full name", "Email", "Shoe size"],
            ["Phan Một", "feet.one@new-field.example.com", "42"],
            ["Phan Hai", "feet.two@new-field.example.com", "38"],
        ],
    )
    _upload_to_mapping(page, base_url, path)
    page.get_by_label("Field for Shoe size").select_option(label="New custom field")
    page.get_by_role("button", name="Next").click()
    _preview_and_confirm(page)
    _wait_completed(page)
    with app_db(running_app) as session:
        field = session.exec(select(FieldDefinition).where(FieldDefinition.label == "Shoe size")).one()
    assert field.type == "number" and not field.is_system
    person = profile_by_email(running_app, "feet.one@new-field.example.com")
    assert person is not None and person.attributes[field.key] == 42
    # the new field is one of the profile's attributes on its User 360 page
    page.goto(f"{base_url}/profiles/{person.id}")
    expect(page.get_by_text("Shoe size", exact=True)).to_be_visible()


def test_undo_of_a_pasted_import(importer: Page, base_url: str, running_app: RunningApp) -> None:
    page = importer
    _open_wizard(page, base_url)
    page.get_by_label("Or paste rows").fill(
        "Email\tFull name\nundo.a@paste.example.com\tUndo A\nundo.b@paste.example.com\tUndo B\n"
    )
    page.get_by_role("button", name="Use pasted rows").click()
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("pasted rows.tsv")
    _next(page, "Identify and map columns")
    _next(page, "Options")
    _preview_and_confirm(page)
    _wait_completed(page)
    assert profile_by_email(running_app, "undo.a@paste.example.com") is not None
    page.get_by_role("button", name="Undo import").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Profiles this import created are deleted")
    dialog.get_by_role("button", name="Undo import").click()
    expect(page.get_by_text(re.compile(r"Undone: 2 profiles removed"))).to_be_visible()
    expect(page.get_by_label("Import status")).to_have_text("undone")
    assert profile_by_email(running_app, "undo.a@paste.example.com") is None


def test_segment_file_import(importer: Page, base_url: str, running_app: RunningApp, tmp_path: Path) -> None:
    from .import_files import segment_members

    page = importer
    _open_wizard(page, base_url)
    page.get_by_label("Or paste rows").fill(
        "Email\tName\nseg.a@segment.example.com\tSeg A\nseg.b@segment.example.com\tSeg B\n"
    )
    page.get_by_role("button", name="Use pasted rows").click()
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("pasted rows.tsv")
    _next(page, "Identify and map columns")
    _next(page, "Options")
    _preview_and_confirm(page)
    _wait_completed(page)

    path = write_csv(
        tmp_path / "segments.csv",
        [
            ["User ID", "Segment Name", "Segment Value"],
            ["seg.a@segment.example.com", "E2E Wizard Buyers", "high"],
            ["seg.b@segment.example.com", "E2E Wizard Buyers", "low"],
        ],
    )
    _open_wizard(page, base_url)
    page.get_by_role("radio", name="Segments").click()
    _upload(page, path)
    _next(page, "Options")
    page.get_by_label("The User ID column holds").select_option("email")
    _preview_and_confirm(page)
    _wait_completed(page)
    members = segment_members(running_app, "E2E Wizard Buyers")
    assert sorted(members.values()) == ["high", "low"]
