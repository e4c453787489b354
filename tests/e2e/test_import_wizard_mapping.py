"""The import wizard keeps a user's data (issue 11, items 6 and 7): near-synonym headers
find their field, columns that would be dropped are named on the preview with one action
each to import them, and values that are an option are mapped from the start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import FieldDefinition

from .helpers import app_db
from .import_files import profile_by_email, write_csv
from .wizard_steps import JOB_TIMEOUT, next_step, upload, wizard_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def wizard(browser, base_url: str):
    with wizard_page(browser, base_url, "admin") as page:
        yield page


@pytest.fixture
def preferred_store(running_app) -> str:
    """A custom field "Preferred store", as a workspace that tracks it has."""
    from profile_ui.services import workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR

    with app_db(running_app) as session:
        if session.get(FieldDefinition, "preferred_store") is None:
            workspace_settings.create_field(
                session=session, actor=SYSTEM_ACTOR, label="Preferred store", key="preferred_store"
            )
    return "preferred_store"


def test_left_out_columns_are_named_and_imported_with_one_action(
    wizard: Page, running_app, tmp_path: Path, preferred_store: str
) -> None:
    page = wizard
    path = write_csv(
        tmp_path / "store survey.csv",
        [
            ["Email", "Full name", "Favourite Store", "Hometown", "Shoe brand"],
            ["survey.a@ignored.example.com", "Survey A", "Q1 Nguyễn Huệ", "Đà Lạt", "Biti's"],
            ["survey.b@ignored.example.com", "Survey B", "Q3 Võ Văn Tần", "Huế", "Ananas"],
        ],
    )
    upload(page, path)
    page.get_by_role("button", name="Next").click()
    # "Favourite Store" is the workspace's "Preferred store"
    expect(page.get_by_label("Field for Favourite Store")).to_have_value(preferred_store, timeout=JOB_TIMEOUT)
    expect(page.get_by_label("Field for Shoe brand")).to_have_value("__ignore__")
    next_step(page, "Options")
    page.get_by_role("button", name="Preview").click()

    # the preview (where the import is confirmed) names what would be dropped
    totals = page.get_by_role("list", name="Totals")
    expect(totals).to_contain_text("2 rows: 2 new", timeout=JOB_TIMEOUT)
    left_out = page.get_by_role("list", name="Columns that will not be imported")
    expect(left_out).to_contain_text("Shoe brand")
    expect(left_out).to_contain_text("Hometown")
    expect(left_out).not_to_contain_text("Favourite Store")
    # one action each: into a field, or as a new custom field; the dry run runs again
    page.get_by_label("Import Hometown into").select_option(label="City")
    expect(totals).to_contain_text("2 rows: 2 new", timeout=JOB_TIMEOUT)
    expect(left_out.get_by_role("listitem")).to_have_count(1, timeout=JOB_TIMEOUT)
    expect(left_out).not_to_contain_text("Hometown")
    page.get_by_role("button", name="Import Shoe brand as a new custom field").click()
    expect(totals).to_contain_text("2 rows: 2 new", timeout=JOB_TIMEOUT)
    expect(page.get_by_role("list", name="Columns that will not be imported")).to_have_count(0)
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)

    person = profile_by_email(running_app, "survey.a@ignored.example.com")
    with app_db(running_app) as session:
        shoe = session.exec(select(FieldDefinition).where(FieldDefinition.label == "Shoe brand")).one()
    assert person.city == "Đà Lạt"
    assert person.attributes[preferred_store] == "Q1 Nguyễn Huệ"
    assert person.attributes[shoe.key] == "Biti's"


def test_values_that_are_an_option_are_mapped_from_the_start(wizard: Page, tmp_path: Path) -> None:
    page = wizard
    path = write_csv(
        tmp_path / "levels.csv",
        [
            ["Email", "Member level"],
            ["lvl.a@values.example.com", "Silver"],
            ["lvl.b@values.example.com", "GOLD"],
            ["lvl.c@values.example.com", "vàng"],
            ["lvl.d@values.example.com", "Plat"],
        ],
    )
    upload(page, path)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Field for Member level")).to_have_value("member_level", timeout=JOB_TIMEOUT)
    next_step(page, "Review values")
    values = page.get_by_role("table", name="Values of Member level")
    # the same word (case and accents aside): mapped, with a check mark
    expect(page.get_by_label("Member level value for Silver")).to_have_value("Silver")
    expect(page.get_by_label("Member level value for GOLD")).to_have_value("Gold")
    expect(values.get_by_role("row", name=re.compile("^Silver"))).to_contain_text("Same as the option")
    # other words wait for the user
    expect(page.get_by_label("Member level value for vàng")).to_have_value("")
    expect(values.get_by_role("row", name=re.compile("^vàng"))).not_to_contain_text("Same as the option")
    expect(page.get_by_text(re.compile(r"^Unmapped values: (vàng, Plat|Plat, vàng)$"))).to_be_visible()
    page.get_by_role("button", name="Map values with matching words").click()
    expect(page.get_by_label("Member level value for vàng")).to_have_value("Gold")
    expect(page.get_by_label("Member level value for Plat")).to_have_value("Platinum")
