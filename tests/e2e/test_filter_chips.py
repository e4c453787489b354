"""Filters kept from an earlier visit are never silent (issue 11, item 10): the list shows
each active filter as a removable chip with "Clear all", and an empty list names them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import ProfileData, RunningApp, active_profile_count
from .test_profiles_list import QUERY_BOX, _choose, _query, _total

pytestmark = pytest.mark.e2e


def test_kept_filters_show_as_chips_that_remove_them(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp
) -> None:
    page = admin_page
    linh = profile_data.profiles["linh"]  # a Gold member
    page.goto("/profiles")
    _choose(page, "Member level", "Platinum")
    _query(page, linh.email)
    expect(_total(page)).to_have_text("0 profiles")

    # another page, then back: the filters are still applied, and say so
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Profiles").click()
    chips = page.get_by_role("list", name="Active filters")
    expect(chips.get_by_role("listitem")).to_have_text([f"Search: “{linh.email}”", "Member level: Platinum"])
    expect(
        page.get_by_text(f"0 profiles match these filters: Search: “{linh.email}”; Member level: Platinum.")
    ).to_be_visible()

    chips.get_by_role("button", name="Remove filter Member level: Platinum").click()
    expect(_total(page)).to_have_text("1 profile")
    expect(chips.get_by_role("listitem")).to_have_text([f"Search: “{linh.email}”"])
    expect(page.get_by_role("table", name="Profiles").get_by_role("link", name=linh.name)).to_be_visible()
    expect(page.get_by_role("combobox", name="Member level", exact=True)).to_have_text("Any level")

    page.get_by_role("button", name="Clear all").click()
    expect(_total(page)).to_have_text(f"{active_profile_count(running_app):,} profiles")
    expect(page.get_by_role("list", name="Active filters")).to_have_count(0)
    expect(page.get_by_label(QUERY_BOX)).to_have_value("")
