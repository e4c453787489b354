"""Security headers on every response, and a Content-Security-Policy the app lives with:
every page an admin opens (and signing in and out) loads, hydrates and works with no CSP
violation reported by Chromium."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .helpers import ProfileData, RunningApp, sign_in_page

pytestmark = pytest.mark.e2e

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
"""
PAGES = [
    ("/profiles", "Profiles"),
    ("/imports", "Imports"),
    ("/imports/new", "New import"),
    ("/exports", "Exports"),
    ("/segments", "Segments"),
    ("/tags", "Tags"),
    ("/trash", "Trash"),
    ("/audit", "Audit log"),
    ("/settings", "Settings"),
]


@pytest.mark.parametrize(
    "path", ["/login", "/profiles", "/ping", "/exports/999999/download", "/_upload", "/auth/session"]
)
def test_every_response_carries_the_security_headers(running_app: RunningApp, path: str) -> None:
    response = httpx.get(f"{running_app.url}{path}", timeout=15)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_no_page_breaks_the_content_security_policy(
    browser: Browser, running_app: RunningApp, profile_data: ProfileData
) -> None:
    context = browser.new_context(base_url=running_app.url, viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    violations: list[str] = []

    sign_in_page(page, running_app.url, "admin")  # the sign-in page, then /profiles
    violations += page.evaluate("window.__cspViolations")
    person = profile_data.profiles["linh"]
    for path, heading in [*PAGES, (f"/profiles/{person.id}", person.name)]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        violations += [f"{path}: {v}" for v in page.evaluate("window.__cspViolations")]
    # signing out posts a form to the backend (form-action 'self'), as signing in did
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Profile UI")).to_be_visible()
    violations += [f"sign-out: {v}" for v in page.evaluate("window.__cspViolations")]
    context.close()
    assert violations == [] and console == []
