"""Creating a profile by hand in Chromium: the form's required fields, a new profile, and
an e-mail that the sync rule matches to an existing profile (updated, not duplicated)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import Identity, Profile

from .helpers import ProfileData, RunningApp, app_db

pytestmark = pytest.mark.e2e


def _profiles_with_email(app: RunningApp, email: str) -> list[int]:
    with app_db(app) as session:
        return list(
            session.exec(select(Identity.profile_id).where(Identity.kind == "email", Identity.value == email)).all()
        )


def test_new_profile_needs_a_name_and_a_contact_then_is_created(marketer_page: Page, running_app: RunningApp) -> None:
    page = marketer_page
    page.goto("/profiles")
    page.get_by_role("link", name="New profile").click()
    expect(page).to_have_url(re.compile(r"/profiles/new/?$"))
    form = page.get_by_role("form", name="New profile")
    expect(form.get_by_label("Full name")).to_have_attribute("aria-required", "true")

    form.get_by_role("button", name="Save").click()
    expect(form.get_by_text("Full name is required")).to_be_visible()
    expect(form.get_by_text("Enter a phone number or an e-mail address").first).to_be_visible()

    form.get_by_label("Full name").fill("Ngô Thị Mới")
    form.get_by_label("E-mail").fill("Moi.Ngo@E2E.example.com")
    form.get_by_label("Phone").fill("0912 000 099")
    form.get_by_label("Birthday").fill("not a date")
    form.get_by_role("group", name="SMS").get_by_role("radio", name="Granted").click()
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_text("'not a date' is not a date", exact=False)).to_be_visible()

    form.get_by_label("Birthday").fill("1990-12-31")
    form.get_by_label("Member level").fill("gold")  # read like an import: matching words
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/profiles/\d+/?$"))
    expect(page.get_by_role("heading", name="Ngô Thị Mới")).to_be_visible()
    basic = page.get_by_role("region", name="Basic information")
    expect(basic).to_contain_text("1990-12-31")
    expect(page.get_by_role("region", name="Member information")).to_contain_text("Gold")
    expect(page.get_by_role("list", name="Consent")).to_contain_text(re.compile(r"SMS\s*granted"))

    created = _profiles_with_email(running_app, "moi.ngo@e2e.example.com")
    assert len(created) == 1
    assert page.url.rstrip("/").endswith(f"/profiles/{created[0]}")


def test_an_existing_e_mail_updates_that_profile_and_says_so(
    marketer_page: Page, profile_data: ProfileData, running_app: RunningApp
) -> None:
    page = marketer_page
    minh = profile_data.profiles["minh"]
    with app_db(running_app) as session:
        profiles_before = session.exec(select(sa.func.count()).select_from(Profile)).one()

    page.goto("/profiles/new")
    form = page.get_by_role("form", name="New profile")
    form.get_by_label("Full name").fill("Lê Văn Minh")
    form.get_by_label("E-mail").fill(minh.email.upper())
    form.get_by_label("City").fill("Nha Trang")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_text("A profile with this e-mail already exists", exact=False)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/profiles/{minh.id}/?$"))
    expect(page.get_by_role("region", name="Basic information")).to_contain_text("Nha Trang")
    with app_db(running_app) as session:
        assert session.exec(select(sa.func.count()).select_from(Profile)).one() == profiles_before
    assert _profiles_with_email(running_app, minh.email) == [minh.id]
