"""The import wizard in the browser: upload, map, review values, preview, confirm, the
report page with its progress, undo; refused files; a viewer kept out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .helpers import RunningApp, sign_in_page
from .import_files import jobs_for, profile_by_email, write_csv, write_xlsx

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def importer(browser, base_url: str):  # noqa: ANN001, ANN201
    """The admin, signed in once for this module (no seeded profiles needed)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    sign_in_page(page, base_url, "admin")
    yield page
    context.close()


def _open_wizard(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_role("button", name="Upload")).to_be_visible()


def _upload(page: Page, *paths: Path) -> None:
    page.locator("input[type=file]").set_input_files([str(p) for p in paths])
    page.get_by_role("button", name="Upload").click()


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
    first = write_xlsx(tmp_path / "club members.xlsx", {"Members": [
        ["Full name", "E-mail", "Gender", "City"],
        ["Ngô Bảo Anh", "bao.anh@wizard.example.com", "female", "Hà Nội"],
        ["Đinh Công Bình", "cong.binh@wizard.example.com", "male", "Huế"],
        ["Kha Mộc", "kha.moc@wizard.example.com", "khác-x", "Vinh"],
    ]})
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
    second = write_xlsx(tmp_path / "club members 2.xlsx", {"Members": [
        ["city", "Gender", "e-mail", "FULL NAME"],
        ["Đà Lạt", "khác-x", "thu.ha@wizard.example.com", "Lò Thu Hà"],
    ]})
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
