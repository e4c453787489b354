"""The profile list in Chromium: query + reset, filters, sort, pages, Column display
(saved per user, admin default), and Batch tag with each policy followed by an import."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from profile_ui.models import ViewPreference

from .helpers import (
    ProfileData,
    RunningApp,
    active_profile_count,
    app_db,
    run_import,
    sign_in_page,
)

pytestmark = pytest.mark.e2e

QUERY_BOX = "User ID, e-mail, phone or name"


def _total(page: Page):
    return page.get_by_role("navigation", name="Pages").get_by_role("status")


def _rows(page: Page):
    return page.get_by_role("table", name="Profiles").locator("tbody tr")


def _query(page: Page, text: str) -> None:
    page.get_by_label(QUERY_BOX).fill(text)
    page.get_by_role("button", name="Query").click()


def _choose(page: Page, select: str, option: str) -> None:
    box = page.get_by_role("combobox", name=select, exact=True)
    choice = page.get_by_role("option", name=option, exact=True)
    # a click that lands while the page is still hydrating opens nothing: open it again
    for _attempt in range(3):
        box.click()
        try:
            choice.wait_for(state="visible", timeout=5_000)
            break
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    choice.click()


def _reset(page: Page, total: int) -> None:
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_label(QUERY_BOX)).to_have_value("")
    expect(_total(page)).to_have_text(f"{total:,} profiles")


def test_query_by_each_identifier_and_name_then_reset(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp
) -> None:
    page = admin_page
    linh = profile_data.profiles["linh"]
    page.goto("/profiles")
    total = active_profile_count(running_app)
    expect(_total(page)).to_have_text(f"{total:,} profiles")

    for text in (linh.email, "0912 000 001", linh.user_id, "LINH.TRAN@e2e.example.com"):
        _query(page, text)
        expect(_total(page)).to_have_text("1 profile")
        expect(_rows(page)).to_have_count(1)
        expect(_rows(page).get_by_role("link", name=linh.name)).to_be_visible()
        _reset(page, total)

    _query(page, "vũ quốc ed")  # the start of a name, typed in lower case
    expect(_total(page)).to_have_text("1 profile")
    expect(_rows(page).get_by_role("link", name="Vũ Quốc Edit")).to_be_visible()

    _query(page, "nobody-at-all@nowhere.example")
    expect(_total(page)).to_have_text("0 profiles")
    # the empty list names what narrowed it
    expect(page.get_by_text("0 profiles match these filters: Search: “nobody-at-all@nowhere.example”.")).to_be_visible()

    _reset(page, total)
    expect(_rows(page)).to_have_count(50)

    # pages of 25 / 50 / 100 with the total
    expect(page.get_by_text(f"Page 1 of {math.ceil(total / 50)}")).to_be_visible()
    page.get_by_role("combobox", name="Rows per page").click()
    page.get_by_role("option", name="25", exact=True).click()
    expect(_rows(page)).to_have_count(25)
    expect(page.get_by_text(f"Page 1 of {math.ceil(total / 25)}")).to_be_visible()
    first_name = _rows(page).first.get_by_role("link").inner_text()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text(f"Page 2 of {math.ceil(total / 25)}")).to_be_visible()
    expect(_rows(page).first.get_by_role("link")).not_to_have_text(first_name)

    # select the page, then everyone matching
    page.get_by_role("checkbox", name="Select all rows on this page").click()
    selection = page.get_by_role("region", name="Selection")
    expect(selection).to_contain_text("25 profiles selected")
    selection.get_by_role("button", name=f"Select all {total:,} matching").click()
    expect(selection).to_contain_text(f"All {total:,} matching profiles selected")
    selection.get_by_role("button", name="Clear selection").click()
    expect(selection).to_be_hidden()


def test_filter_combination_and_sort(admin_page: Page, profile_data: ProfileData, running_app: RunningApp) -> None:
    page = admin_page
    linh, hoa = profile_data.profiles["linh"], profile_data.profiles["hoa"]
    page.goto("/profiles")
    _reset(page, active_profile_count(running_app))

    _choose(page, "Group", "E2E Newsletter")
    page.get_by_role("button", name="Query").click()
    expect(_total(page)).to_have_text("2 profiles")

    # sort by name, both ways
    page.get_by_role("button", name="Sort by Full name").click()
    expect(page.get_by_role("columnheader", name="Sort by Full name")).to_have_attribute(
        "aria-sort", re.compile("ascending|descending")
    )
    names = [hoa.name, linh.name]  # "Phạm…" < "Trần…"
    order = page.get_by_role("columnheader", name="Sort by Full name").get_attribute("aria-sort")
    expected = names if order == "ascending" else names[::-1]
    expect(_rows(page).get_by_role("link")).to_have_text(expected)
    page.get_by_role("button", name="Sort by Full name").click()
    expect(_rows(page).get_by_role("link")).to_have_text(expected[::-1])

    # group + member level + created today: only Linh
    _choose(page, "Member level", "Gold")
    page.get_by_label("Created from").fill(_today(page))
    page.get_by_role("button", name="Query").click()
    expect(_total(page)).to_have_text("1 profile")
    expect(_rows(page).get_by_role("link")).to_have_text([linh.name])

    # the same filters over deactivated profiles: none
    _choose(page, "Status", "Deactivated")
    page.get_by_role("button", name="Query").click()
    expect(_total(page)).to_have_text("0 profiles")

    _reset(page, active_profile_count(running_app))
    expect(page.get_by_role("combobox", name="Group", exact=True)).to_have_text("Any group")
    expect(page.get_by_role("combobox", name="Status", exact=True)).to_have_text("Active")


def _today(page: Page) -> str:
    return page.evaluate("() => new Date().toISOString().slice(0, 10)")


def _headers(page: Page):
    return page.get_by_role("table", name="Profiles").get_by_role("columnheader")


def test_column_display_is_saved_per_user_and_restored_after_sign_in_again(marketer_page: Page, base_url: str) -> None:
    page = marketer_page
    page.goto("/profiles")
    expect(_headers(page)).to_have_text(
        ["", "Full name", "Phone", "Email", "Member level", "Created", "Initial source"]
    )
    page.get_by_role("button", name="Column display").click()
    dialog = page.get_by_role("dialog", name="Column display")
    dialog.get_by_role("checkbox", name="City", exact=True).click()
    dialog.get_by_role("checkbox", name="Initial source", exact=True).click()
    dialog.get_by_role("button", name="Move City up").click()
    dialog.get_by_role("button", name="Move Phone down").click()
    expect(dialog.get_by_role("list", name="Shown columns").get_by_role("listitem")).to_have_text(
        [
            re.compile(r"Full name"),
            re.compile("Email"),
            re.compile("Phone"),
            re.compile("Member level"),
            re.compile("City"),
            re.compile("Created"),
        ]
    )
    dialog.get_by_role("button", name="Save", exact=True).click()
    expected = ["", "Full name", "Email", "Phone", "Member level", "City", "Created"]
    expect(_headers(page)).to_have_text(expected)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Profile UI")).to_be_visible()
    sign_in_page(page, base_url, "marketer")
    page.goto("/profiles")
    expect(_headers(page)).to_have_text(expected)


def test_admin_default_columns_apply_to_users_without_their_own(
    admin_page: Page, viewer_page: Page, running_app: RunningApp
) -> None:
    try:
        admin_page.goto("/profiles")
        admin_page.get_by_role("button", name="Column display").click()
        dialog = admin_page.get_by_role("dialog", name="Column display")
        dialog.get_by_role("checkbox", name="Birthday", exact=True).click()
        dialog.get_by_role("button", name="Save as default for everyone").click()
        expect(_headers(admin_page).last).to_have_text("Birthday")

        viewer_page.goto("/profiles")
        expect(_headers(viewer_page).last).to_have_text("Birthday")
    finally:
        with app_db(running_app) as session:
            session.execute(sa.delete(ViewPreference).where(ViewPreference.user_id == 0))


def _batch_tag(page: Page, name: str, value: str, policy: str) -> None:
    page.get_by_role("checkbox", name=f"Select {name}").click()
    expect(page.get_by_role("region", name="Selection")).to_contain_text("1 profile selected")
    page.get_by_role("button", name="Batch tag").click()
    dialog = page.get_by_role("dialog", name="Batch tag")
    dialog.get_by_role("combobox", name="Tag group").click()
    page.get_by_role("option", name="E2E", exact=True).click()
    dialog.get_by_role("combobox", name="Tag", exact=True).click()
    page.get_by_role("option", name="Tier", exact=True).click()
    dialog.get_by_label("Tag value").fill(value)
    # the choice reads as what a later import may do, in the dialog's own words
    dialog.get_by_role("group", name="When a later import brings another value for this tag:").get_by_role(
        "radio", name=policy
    ).click()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Tagged 1 profile").last).to_be_visible()


def test_batch_tag_policies_decide_what_a_later_import_does(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp, tmp_path: Path
) -> None:
    page = admin_page
    overwrite, ignore = profile_data.profiles["overwrite"], profile_data.profiles["ignore"]
    page.goto("/profiles")
    _query(page, "Policy")
    expect(_total(page)).to_have_text("2 profiles")
    _batch_tag(page, overwrite.name, "VIP", "Overwrite with the imported value")
    _batch_tag(page, ignore.name, "VIP", "Keep this value")

    run_import(
        running_app,
        [{"email": overwrite.email}, {"email": ignore.email}],
        {
            "columns": {"email": "identity:email"},
            "options": {"tag_ids": [profile_data.tier_tag_id], "tag_value": "Regular"},
        },
        tmp_path,
    )

    page.goto(f"/profiles/{overwrite.id}")
    tags = page.get_by_role("list", name="Tags")
    expect(tags).to_contain_text("E2E: Tier = Regular")  # the data won
    expect(tags).not_to_contain_text("E2E: Tier = VIP")
    page.goto(f"/profiles/{ignore.id}")
    tags = page.get_by_role("list", name="Tags")
    expect(tags).to_contain_text("E2E: Tier = VIP")  # the batch tag won
    expect(tags).not_to_contain_text("Regular")
