"""Steps of the import wizard the browser tests share: open it, choose files through its
one "Choose files" button, upload, go to a step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from .helpers import sign_in_page

JOB_TIMEOUT = 60_000


def open_wizard(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_role("button", name="Upload")).to_be_visible()


@contextmanager
def wizard_page(browser: Browser, base_url: str, role: str) -> Iterator[Page]:
    """A fresh context signed in as `role`, on a new wizard (closed afterwards)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        sign_in_page(page, base_url, role)
        open_wizard(page, base_url)
        yield page
    finally:
        context.close()


def choose_files(page: Page, *paths: Path) -> None:
    """What a user does: click "Choose files" and pick the files in the dialog."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files([str(p) for p in paths])


def upload(page: Page, *paths: Path, accepted: bool = True) -> None:
    choose_files(page, *paths)
    page.get_by_role("button", name="Upload").click()
    if accepted:
        for path in paths:
            expect(page.get_by_role("list", name="Files to import")).to_contain_text(path.name)


def next_step(page: Page, step: str) -> None:
    """Click Next and wait for the wizard to show `step`."""
    page.get_by_role("button", name="Next").click()
    expect(page.locator('[aria-current="step"]')).to_contain_text(step, timeout=JOB_TIMEOUT)
