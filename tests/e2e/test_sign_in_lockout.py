"""Sign-in guessing in Chromium: wrong passwords sent for someone's e-mail from another
address do not keep that person out; guessing spread over many addresses locks the
account, the admin sees the lock in Settings → Users and lifts it, and the person signs in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.users import SignInError, create_user, sign_in
from profile_ui.settings import get_settings

from .helpers import PASSWORD, RunningApp, app_db

pytestmark = pytest.mark.e2e


def _new_user(app: RunningApp, email: str) -> None:
    with app_db(app) as session:
        create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=PASSWORD, role="viewer")


def _guess(app: RunningApp, email: str, clients: list[str]) -> None:
    """Wrong passwords for `email`, one from each address, through the sign-in service."""
    with app_db(app) as session:
        for client in clients:
            with pytest.raises(SignInError):
                sign_in(session=session, email=email, password="wrong password", client=client)
            session.rollback()


def _sign_in_form(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _fresh_page(browser: Browser, base_url: str) -> Page:
    return browser.new_context(base_url=base_url).new_page()


def test_wrong_passwords_from_another_address_do_not_keep_the_user_out(
    browser: Browser, running_app: RunningApp
) -> None:
    email = "guessed.viewer@e2e.example.com"
    _new_user(running_app, email)
    _guess(running_app, email, ["203.0.113.9"] * (get_settings().login_max_failures + 2))
    page = _fresh_page(browser, running_app.url)
    _sign_in_form(page, running_app.url, email)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.context.close()


def test_an_admin_sees_a_locked_account_and_unlocks_it(
    browser: Browser, running_app: RunningApp, admin_page: Page
) -> None:
    email = "locked.viewer@e2e.example.com"
    _new_user(running_app, email)
    _guess(running_app, email, [f"198.51.100.{n}" for n in range(get_settings().login_lock_failures)])

    user_page = _fresh_page(browser, running_app.url)
    _sign_in_form(user_page, running_app.url, email)
    expect(user_page.get_by_role("alert")).to_contain_text("This account is locked")

    admin_page.goto("/settings")
    admin_page.get_by_role("tab", name="Users and roles").click()
    row = admin_page.get_by_role("tabpanel", name="Users and roles").get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text("Locked since")
    row.get_by_role("button", name=f"Unlock {email}").click()
    expect(admin_page.get_by_text("Unlocked: the user can sign in again")).to_be_visible()
    expect(row).to_contain_text("Not locked")

    _sign_in_form(user_page, running_app.url, email)
    expect(user_page.get_by_role("button", name="Sign out")).to_be_visible()
    user_page.context.close()
