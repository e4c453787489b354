"""Automated accessibility check (issue 11, item 14): axe-core (bundled by
axe-playwright-python) on every page of the app as each role sees it, signed out too:
no serious or critical violation.

Each page is checked once its on_load has run (no loading spinner, controls enabled) and,
for pages with tabs or a wizard, as first shown."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from profile_ui import routes

from .helpers import ProfileData, RunningApp, run_import, sign_in_page

pytestmark = pytest.mark.e2e

BLOCKING = ("serious", "critical")
_AXE = Axe()


def _static_pages() -> list[str]:
    return [r for r in (routes.INDEX, *routes.PAGE_PERMISSIONS) if "[" not in r]


@pytest.fixture(scope="module")
def dynamic_pages(running_app: RunningApp, profile_data: ProfileData, tmp_path_factory) -> list[str]:
    """A profile's User 360 page and an import's report page."""
    report = run_import(
        running_app,
        [{"email": "axe.check@a11y.example.com", "name": "Axe Check"}],
        {"columns": {"email": "identity:email", "name": "full_name"}},
        tmp_path_factory.mktemp("axe"),
    )
    return [routes.profile_url(profile_data.profiles["linh"].id), f"{routes.IMPORTS}/{report['job_id']}"]


def _violations(page: Page, url: str) -> list[str]:
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_label("Loading")).to_have_count(0)
    expect(page.locator("main fieldset[aria-busy='true']")).to_have_count(0)
    results = _AXE.run(page, options={"resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING:
            targets = [
                (" ".join(map(str, node.get("target", []))), node.get("html", "")[:160]) for node in violation["nodes"]
            ][:5]
            found.append(f"{url}: {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


@pytest.mark.parametrize("role", ["admin", "marketer", "viewer"])
def test_every_page_as_each_role_has_no_serious_violation(
    browser, base_url: str, role: str, dynamic_pages: list[str]
) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        sign_in_page(page, base_url, role)
        found = [v for url in [*_static_pages(), *dynamic_pages] for v in _violations(page, url)]
    finally:
        context.close()
    assert not found, "\n".join(found)


def test_the_sign_in_page_has_no_serious_violation(browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    try:
        found = _violations(page, routes.LOGIN)
    finally:
        context.close()
    assert not found, "\n".join(found)
