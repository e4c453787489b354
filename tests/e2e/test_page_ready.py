"""Typed text is never overwritten when a page's data arrives (issue 11, item 5).

A test gate (profile_ui/test_gates.py, "page-load") holds every page's on_load chain
until the test releases it: the page is looked at, and typed into, while its on_load has
really not run, with no timing involved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import ImportJob, User
from profile_ui.state.base import PAGE_LOAD_GATE
from profile_ui.test_gates import gate_path

from .helpers import PASSWORD, USERS, ProfileData, RunningApp, app_db

pytestmark = pytest.mark.e2e

QUERY_BOX = "User ID, e-mail, phone or name"


@contextmanager
def on_load_held(app: RunningApp) -> Iterator[None]:
    gate = gate_path(PAGE_LOAD_GATE, app.data_dir)
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.touch()
    try:
        yield
    finally:
        gate.unlink(missing_ok=True)


def _total(page: Page):
    return page.get_by_role("navigation", name="Pages").get_by_role("status")


def test_the_profile_search_box_waits_for_the_list_and_keeps_what_is_typed(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp
) -> None:
    page = admin_page
    linh, minh = profile_data.profiles["linh"], profile_data.profiles["minh"]
    page.goto("/profiles")
    page.get_by_label(QUERY_BOX).fill(linh.email)
    page.get_by_role("button", name="Query").click()
    expect(_total(page)).to_have_text("1 profile")

    box = page.get_by_label(QUERY_BOX)
    with on_load_held(running_app):
        # the list opened again: the earlier visit's page is on screen at once, but its
        # on_load (which brings the list and a fresh form) has not run: nothing can be typed
        page.reload()
        expect(box).to_be_disabled()
        expect(page.get_by_role("button", name="Query")).to_be_disabled()
    expect(box).to_be_enabled()
    box.fill(minh.email)  # typed as soon as the box takes input: the data has arrived
    expect(box).to_have_value(minh.email)
    page.get_by_role("button", name="Query").click()
    expect(_total(page)).to_have_text("1 profile")
    expect(page.get_by_role("table", name="Profiles").get_by_role("link", name=minh.name)).to_be_visible()
    expect(box).to_have_value(minh.email)


def test_a_reload_of_the_wizard_keeps_its_controls_disabled_until_loaded(
    admin_page: Page, running_app: RunningApp
) -> None:
    page = admin_page
    page.goto("/imports/new")
    paste = page.get_by_label("Or paste rows")
    expect(paste).to_be_enabled()
    with on_load_held(running_app):
        page.reload()
        expect(paste).to_be_disabled()
    expect(paste).to_be_enabled()
    paste.fill("Email\nready@page.example.com\n")
    expect(paste).to_have_value("Email\nready@page.example.com\n")


def test_the_sign_in_form_keeps_what_was_typed_while_the_page_loads(
    browser, base_url: str, running_app: RunningApp
) -> None:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    try:
        page.goto("/login")
        expect(page.get_by_label("E-mail")).to_be_visible()
        with on_load_held(running_app):
            page.reload()
            page.get_by_label("E-mail").fill(USERS["viewer"])
            page.get_by_label("Password").fill(PASSWORD)
        # the on_load has run now (it forgets the tab's user); what was typed is still there
        expect(page.get_by_label("E-mail")).to_have_value(USERS["viewer"])
        expect(page.get_by_label("Password")).to_have_value(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    finally:
        context.close()


def _finished_import(app: RunningApp, file_name: str) -> int:
    with app_db(app) as session:
        admin = session.exec(select(User.id).where(User.email == USERS["admin"])).one()
        job = ImportJob(
            batch_id=str(uuid.uuid4()),
            file_name=file_name,
            kind="profiles",
            status="completed",
            created_by=admin,
            counts={"rows": 1, "created": 1},
            mapping={"columns": {}},
            options={},
        )
        session.add(job)
        session.flush()
        return job.id


def test_a_report_opened_after_another_never_shows_the_other_ones_figures(
    admin_page: Page, running_app: RunningApp
) -> None:
    """The tab's state still holds the report seen before when the next one opens: until
    the new report's load has run, the page says it is loading instead of showing them."""
    page = admin_page
    first = _finished_import(running_app, "spring leads.csv")
    second = _finished_import(running_app, "autumn leads.csv")
    page.goto(f"/imports/{first}")
    expect(page.get_by_role("heading", name="spring leads.csv")).to_be_visible()
    with on_load_held(running_app):
        page.goto(f"/imports/{second}")
        expect(page.get_by_role("status").filter(has_text="Loading the import report")).to_be_visible()
        expect(page.get_by_role("heading", name="spring leads.csv")).to_have_count(0)
    expect(page.get_by_role("heading", name="autumn leads.csv")).to_be_visible()
    expect(page.get_by_role("heading", name="spring leads.csv")).to_have_count(0)
