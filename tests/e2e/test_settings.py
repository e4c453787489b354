"""Settings in Chromium: a custom field required on create, which the New profile form then
requires; a tag group and tag made here are offered by the tag dialog."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from profile_ui.models import FieldDefinition
from profile_ui.services import workspace_settings
from profile_ui.services.permissions import SYSTEM_ACTOR

from .helpers import ProfileData, RunningApp, app_db

pytestmark = pytest.mark.e2e


def test_a_custom_field_required_on_create_is_required_by_the_create_form(
    admin_page: Page, running_app: RunningApp
) -> None:
    page = admin_page
    try:
        page.goto("/settings")
        fields = page.get_by_role("tabpanel", name="Fields")
        add = fields.get_by_role("form", name="Add a custom field")
        add.get_by_label("Label").fill("Loyalty card")
        add.get_by_label("Type").select_option("text")
        add.get_by_role("checkbox", name="Required on create").check()
        add.get_by_role("checkbox", name="PII").check()
        add.get_by_role("button", name="Add field").click()
        expect(page.get_by_text("Field 'Loyalty card' added")).to_be_visible()
        expect(add.get_by_label("Label")).to_have_value("")
        row = fields.get_by_role("row").filter(has_text="loyalty_card")
        expect(row.get_by_role("switch", name="Required on create: Loyalty card")).to_be_checked()
        expect(row.get_by_role("switch", name="PII: Loyalty card")).to_be_checked()

        page.goto("/profiles/new")
        form = page.get_by_role("form", name="New profile")
        card = form.get_by_label("Loyalty card")
        expect(card).to_have_attribute("aria-required", "true")
        form.get_by_label("Full name").fill("Khách Thẻ Mới")
        form.get_by_label("E-mail").fill("the.moi@e2e.example.com")
        form.get_by_role("button", name="Save").click()
        expect(form.get_by_text("Loyalty card is required")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/profiles/new/?$"))

        card.fill("LC-000123")
        form.get_by_role("button", name="Save").click()
        expect(page).to_have_url(re.compile(r"/profiles/\d+/?$"))
        expect(page.get_by_role("region", name="Basic information")).to_contain_text("LC-000123")

        # and back in settings: no longer required, the form stops asking
        page.goto("/settings")
        row = page.get_by_role("tabpanel", name="Fields").get_by_role("row").filter(has_text="loyalty_card")
        row.get_by_role("switch", name="Required on create: Loyalty card").click()
        expect(row.get_by_role("switch", name="Required on create: Loyalty card")).not_to_be_checked()
        page.goto("/profiles/new")
        expect(page.get_by_role("form", name="New profile").get_by_label("Loyalty card")).to_have_attribute(
            "aria-required", "false"
        )
    finally:
        with app_db(running_app) as session:
            if session.get(FieldDefinition, "loyalty_card") is not None:
                workspace_settings.delete_field(session=session, actor=SYSTEM_ACTOR, key="loyalty_card")


def test_tags_made_in_settings_are_offered_when_tagging(admin_page: Page, profile_data: ProfileData) -> None:
    page = admin_page
    page.goto("/settings")
    page.get_by_role("tab", name="Tags").click()
    tags = page.get_by_role("tabpanel", name="Tags")
    tags.get_by_role("form", name="New tag group").get_by_label("Name").fill("Loyalty")
    tags.get_by_role("button", name="Add group").click()
    expect(tags.get_by_role("heading", name="Loyalty")).to_be_visible()
    new_tag = tags.get_by_role("form", name="New tag", exact=True)
    new_tag.get_by_label("Tag group").select_option(label="Loyalty")
    new_tag.get_by_label("Name").fill("Card tier")
    new_tag.get_by_label("Kind").select_option("multi")
    new_tag.get_by_role("button", name="Add tag").click()
    expect(tags.get_by_role("list", name="Tags in Loyalty")).to_contain_text("Card tier")

    page.goto(f"/profiles/{profile_data.profiles['minh'].id}")
    page.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_role("dialog", name="Tag")
    dialog.get_by_role("combobox", name="Tag group").click()
    page.get_by_role("option", name="Loyalty", exact=True).click()
    dialog.get_by_role("combobox", name="Tag", exact=True).click()
    expect(page.get_by_role("option", name="Card tier")).to_be_visible()
    page.keyboard.press("Escape")
