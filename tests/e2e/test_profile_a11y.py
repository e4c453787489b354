"""A profile as a screen reader meets it (issue 11, item 13, profile parts): the attribute
rows are table rows named by their label, in tables named by their section; an identity's
source and encryption status are text in the identity table, not only in a tooltip."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import ProfileData

pytestmark = pytest.mark.e2e


def test_attribute_rows_and_identity_source_are_listed_by_role(viewer_page: Page, profile_data: ProfileData) -> None:
    page = viewer_page
    person = profile_data.profiles["hoa"]
    page.goto(f"/profiles/{person.id}")
    basic = page.get_by_role("table", name="Basic information")
    city = basic.get_by_role("row").filter(has=page.get_by_role("rowheader", name="City", exact=True))
    expect(city.get_by_role("cell")).to_contain_text("Đà Nẵng")
    member = page.get_by_role("table", name="Member information")
    expect(member.get_by_role("rowheader", name="Member level", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Source").get_by_role("rowheader", name="Initial source")).to_be_visible()

    page.get_by_role("tab", name="Identity information").click()
    identities = page.get_by_role("table", name="Identities")
    expect(identities.get_by_role("columnheader")).to_contain_text(["Kind", "Value", "Source", "Encryption"])
    email = identities.get_by_role("row").filter(has_text=person.email)
    # no hover needed: the source and the encryption status are in the row as text
    expect(email.get_by_role("cell").nth(1)).to_contain_text("Entered by hand")
    expect(email.get_by_role("cell").nth(2)).to_have_text("Not encrypted")
