"""Import progress in the browser (issue 11, item 4): while the dry run runs, the wizard
names the stage and the rows done, then the look-alike check by name; while the import
applies, its report page does, with a count between none and all, not "0 of N" until the end.

Test gates (profile_ui/test_gates.py) hold the embedded worker at its first report inside
the dry run and the apply stages and at the look-alike check, so the pages are looked at
mid-stage without any timing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from profile_ui.test_gates import gate_path

from .helpers import RunningApp


def _arm(app: RunningApp, stage: str):
    gate = gate_path(f"import-{stage}", app.data_dir)
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.touch()
    return gate


pytestmark = pytest.mark.e2e

ROWS = 300
JOB_TIMEOUT = 60_000


def test_the_wizard_and_the_report_page_show_the_stage_and_rows_done_while_it_runs(
    admin_page: Page, running_app: RunningApp
) -> None:
    page = admin_page
    pasted = "Email\tFull name\n" + "".join(f"progress.{i:03d}@bar.example.com\tProgress {i}\n" for i in range(ROWS))
    page.goto("/imports/new")
    page.get_by_label("Or paste rows").fill(pasted)
    page.get_by_role("button", name="Use pasted rows").click()
    expect(page.get_by_role("list", name="Files to import")).to_contain_text("pasted rows")
    for step in ("Identify and map columns", "Options"):
        page.get_by_role("button", name="Next").click()
        expect(page.locator('[aria-current="step"]')).to_contain_text(step, timeout=JOB_TIMEOUT)
    gate = _arm(running_app, "dry_run")
    flags = _arm(running_app, "flags")  # the look-alike check, after the dry run, held until let go
    try:
        page.get_by_role("button", name="Preview").click()
        busy = page.get_by_role("status").filter(has_text="Dry run:")
        expect(busy).to_have_text(re.compile(rf"^Dry run: [1-9]\d* of {ROWS} rows$"), timeout=JOB_TIMEOUT)
        assert 0 < int(re.search(r"(\d+) of", busy.inner_text()).group(1)) < ROWS
        gate.unlink()
        # the preview shows without waiting for the look-alike check, which says it is running
        totals = page.get_by_role("list", name="Totals")
        expect(totals).to_contain_text(f"{ROWS} rows: {ROWS} new", timeout=JOB_TIMEOUT)
        expect(totals).to_contain_text("checking for possible duplicates…")
        expect(page.get_by_role("button", name="Confirm import")).to_be_visible()
        flags.unlink()
        expect(totals).not_to_contain_text("checking for possible duplicates", timeout=JOB_TIMEOUT)
    finally:
        gate.unlink(missing_ok=True)
        flags.unlink(missing_ok=True)

    gate = _arm(running_app, "apply")
    try:
        page.get_by_role("button", name="Confirm import").click()
        expect(page).to_have_url(re.compile(r"/imports/\d+$"))
        progress = page.get_by_role("status", name="Progress")
        expect(progress).to_have_text(re.compile(rf"^Applying changes: [1-9]\d* of {ROWS} rows$"), timeout=JOB_TIMEOUT)
        expect(page.get_by_label("Import status")).to_have_text("running")
        done = int(re.search(r"(\d+) of", progress.inner_text()).group(1))
        assert 0 < done < ROWS  # part of the way, while the job is held mid-apply
    finally:
        gate.unlink(missing_ok=True)
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)
    expect(progress).to_have_text(f"{ROWS} of {ROWS} rows")
