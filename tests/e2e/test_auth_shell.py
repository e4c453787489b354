"""Sign-in, roles and the app shell, in Chromium against the running app."""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from profile_ui.state.base import SESSION_COOKIE

from .helpers import USERS, RunningApp, add_notification, unread_titles

pytestmark = pytest.mark.e2e

ALL_ITEMS = ["Profiles", "Imports", "Segments", "Tags", "Exports", "Duplicates", "Trash", "Audit log", "Settings"]
MENUS = {
    "admin": ALL_ITEMS,
    "marketer": ["Profiles", "Imports", "Segments", "Tags", "Exports", "Duplicates"],
    "viewer": ["Profiles", "Segments", "Tags"],
}


def _menu(page: Page):
    return page.get_by_role("navigation", name="Main navigation").get_by_role("link")


def _expect_login_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/login/?$"))
    expect(page.get_by_role("heading", name="Sign in to Profile UI")).to_be_visible()


@pytest.mark.parametrize("role", ["admin", "marketer", "viewer"])
def test_each_role_sees_its_own_menu(page: Page, sign_in, role: str) -> None:
    sign_in(role)
    expect(page).to_have_url(re.compile(r"/profiles/?$"))
    expect(_menu(page)).to_have_text(MENUS[role])
    header = page.get_by_role("banner")
    expect(header.get_by_text(USERS[role])).to_be_visible()
    expect(header.get_by_role("button", name=re.compile("^Notifications"))).to_be_visible()
    expect(page.get_by_role("table", name="Profiles")).to_be_visible()


def test_wrong_password_shows_an_error_and_no_session(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(USERS["admin"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_label("Password").press("Enter")  # Enter submits the form
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE and c["value"]]
    page.goto(f"{base_url}/profiles")
    _expect_login_page(page)
    expect(page.get_by_role("navigation", name="Main navigation")).to_have_count(0)


@pytest.mark.parametrize(
    "route, title", [("/settings", "Settings"), ("/audit", "Audit log"), ("/imports/new", "New import")]
)
def test_viewer_opening_a_page_by_url_is_refused(page: Page, sign_in, base_url: str, route: str, title: str) -> None:
    sign_in("viewer")
    page.goto(f"{base_url}{route}")
    expect(page.get_by_role("alert")).to_contain_text(f"You don't have access to {title}.")
    expect(page.get_by_text("Coming soon")).to_have_count(0)
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)


def test_admin_opens_admin_pages(page: Page, sign_in) -> None:
    sign_in("admin")
    _menu(page).get_by_text("Settings").click()
    expect(page).to_have_url(re.compile(r"/settings/?$"))
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    expect(page.get_by_role("tab", name="Fields")).to_be_visible()


def test_the_session_cookie_is_set_by_the_server_out_of_scripts_reach(page: Page, sign_in) -> None:
    sign_in("marketer")
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["value"] and cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/" and cookie["secure"] is False  # APP_URL is http here
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    # the signed-in pages work on it: the next page's socket carries it
    _menu(page).get_by_text("Imports").click()
    expect(page).to_have_url(re.compile(r"/imports/?$"))
    expect(page.get_by_role("banner").get_by_text(USERS["marketer"])).to_be_visible()


def test_sign_out_ends_the_session_and_back_does_not_restore_it(
    page: Page, sign_in, base_url: str, running_app: RunningApp
) -> None:
    sign_in("marketer")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    _menu(page).get_by_text("Imports").click()
    expect(page).to_have_url(re.compile(r"/imports/?$"))
    page.get_by_role("button", name="Sign out").click()
    _expect_login_page(page)
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE and c["value"]]

    page.go_back()
    _expect_login_page(page)
    expect(page.get_by_text("Coming soon")).to_have_count(0)

    # the server revoked the session: the old token is worthless even if replayed
    engine = sa.create_engine(running_app.database_url)
    with engine.connect() as conn:
        revoked_at = conn.execute(
            sa.text("SELECT revoked_at FROM user_sessions WHERE token_hash = :h"),
            {"h": hashlib.sha256(token.encode()).hexdigest()},
        ).scalar_one()
    engine.dispose()
    assert revoked_at is not None
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])
    page.goto(f"{base_url}/imports")
    _expect_login_page(page)


def test_notifications_bell_lists_and_marks_read(page: Page, sign_in, running_app: RunningApp) -> None:
    add_notification(running_app, USERS["marketer"], "Import finished: leads.xlsx", "/imports")
    add_notification(running_app, USERS["marketer"], "Export ready: vip.csv")
    sign_in("marketer")
    bell = page.get_by_role("button", name="Notifications (2 unread)")
    bell.click()
    dialog = page.get_by_role("dialog", name="Notifications")
    dialog.get_by_role("button", name=re.compile("Import finished: leads.xlsx")).click()
    expect(page).to_have_url(re.compile(r"/imports/?$"))  # followed the link, marked read
    assert unread_titles(running_app, USERS["marketer"]) == ["Export ready: vip.csv"]

    page.get_by_role("button", name="Notifications (1 unread)").click()
    dialog.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    assert unread_titles(running_app, USERS["marketer"]) == []


def test_marketer_uploads_a_file_into_the_private_folder(
    page: Page, sign_in, base_url: str, running_app: RunningApp, tmp_path
) -> None:
    sheet = tmp_path / "leads.csv"
    sheet.write_text("email,name\nann@example.com,Ann\n")
    sign_in("marketer")
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_role("heading", name="New import", level=1)).to_be_visible()
    page.locator("input[type=file]").set_input_files(str(sheet))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("leads.csv")
    saved = list((running_app.data_dir / "uploads").glob("*.csv"))
    assert any(p.read_text() == sheet.read_text() for p in saved)
    assert not any(p.is_file() for p in (running_app.data_dir / "reflex-uploads-unused").rglob("*"))


def test_repeated_failures_lock_the_email_out(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    email = page.get_by_label("E-mail")
    password = page.get_by_label("Password")
    email.fill("guesser@e2e.example.com")
    alert = page.get_by_role("alert")
    for attempt in range(1, 6):  # the tab's events run in order, so each one counts
        password.fill(f"guess-number-{attempt}")
        password.press("Enter")
        expect(alert).to_have_text("Wrong e-mail or password.")
    password.fill("guess-number-6")
    password.press("Enter")
    expect(alert).to_contain_text("Too many failed sign-ins")


def test_signed_in_user_skips_the_login_page(page: Page, sign_in, base_url: str) -> None:
    sign_in("viewer")
    page.goto(f"{base_url}/login")
    expect(page).to_have_url(re.compile(r"/profiles/?$"))
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/profiles/?$"))
    expect(page.get_by_role("heading", name="Profiles", level=1)).to_be_visible()
