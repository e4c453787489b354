"""What the import wizard tells a user about limits and files it refuses (issue 11: items
1 and 2), and how it reads to assistive technology (item 13): one chooser button, the
current step as text, named tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .helpers import UPLOAD_MAX_BYTES
from .import_files import import_job_count, write_csv
from .wizard_steps import JOB_TIMEOUT, choose_files, next_step, upload, wizard_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def wizard(browser, base_url: str):
    """A fresh signed-in context per test (one test signs its context out)."""
    with wizard_page(browser, base_url, "marketer") as page:
        yield page


def test_one_labelled_chooser_and_a_file_over_the_limit_is_named_at_once(wizard: Page, tmp_path: Path) -> None:
    page = wizard
    expect(page.get_by_text("Step 1 of 6: Source")).to_be_visible()
    # one control to choose files (the dropzone's own file input is not a second one)
    expect(page.get_by_role("button", name=re.compile("choose file", re.I))).to_have_count(1)
    huge = tmp_path / "huge.csv"
    huge.write_text("email\n" + "x@example.com\n" * (UPLOAD_MAX_BYTES // 14 + 7_000))
    assert huge.stat().st_size == 297_996
    choose_files(page, huge)
    # before anything is sent: the file, its size and the limit
    expect(page.get_by_role("alert")).to_have_text("huge.csv: the file is 291 KB; files up to 195 KB can be imported")
    expect(page.get_by_role("list", name="Chosen files")).not_to_contain_text("huge.csv")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Upload a file or paste rows first")).to_be_visible()


def test_an_upload_the_server_refuses_is_named(wizard: Page, tmp_path: Path) -> None:
    page = wizard
    leads = write_csv(tmp_path / "leads.csv", [["Email"], ["a@refused.example.com"]])
    choose_files(page, leads)
    page.context.clear_cookies()  # the sign-in ended (signed out in another tab, expired)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("leads.csv: not uploaded: your sign-in has ended")
    expect(page.get_by_role("list", name="Files to import")).to_have_count(0)


def test_pasted_rows_over_the_limit_are_refused(wizard: Page, running_app) -> None:
    page = wizard
    jobs_before = import_job_count(running_app)
    rows = "".join(f"paste{n}@limit.example.com\tPerson {n}\n" for n in range(1_001))
    page.get_by_label("Or paste rows").fill("Email\tFull name\n" + rows)
    page.get_by_role("button", name="Use pasted rows").click()
    expect(page.get_by_role("alert")).to_contain_text("1,001 rows were pasted; at most 1,000 can be pasted at once")
    expect(page.get_by_role("list", name="Files to import")).to_have_count(0)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Upload a file or paste rows first")).to_be_visible()
    assert import_job_count(running_app) == jobs_before  # nothing queued


def test_steps_read_as_text_and_tables_have_names(wizard: Page, tmp_path: Path) -> None:
    page = wizard
    path = write_csv(
        tmp_path / "named tables.csv",
        [["Email", "Full name", "City"], ["named.a@tables.example.com", "Named A", "Huế"]],
    )
    upload(page, path)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Step 3 of 6: Identify and map columns")).to_be_visible(timeout=JOB_TIMEOUT)
    expect(page.get_by_role("table", name="Column mapping")).to_contain_text("named.a@tables.example.com")
    next_step(page, "Options")
    expect(page.get_by_text("Step 5 of 6: Options")).to_be_visible()
    expect(page.get_by_role("table", name="Merge policies")).to_contain_text("Full name")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Step 6 of 6: Preview")).to_be_visible()
    expect(page.get_by_role("table", name="Preview rows")).to_contain_text("new", timeout=JOB_TIMEOUT)


def _mail_body(running_app, to: str, subject: str, wait_s: float = 60) -> str:
    """The body of the newest e-mail to `to` whose subject holds `subject`, once sent."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        mails = [m for m in running_app.inbox if m["To"] == to and subject in m["Subject"]]
        if mails or time.monotonic() > deadline:
            assert mails, [m["Subject"] for m in running_app.inbox]
            return mails[-1].get_payload(decode=True).decode()
        time.sleep(0.2)


def test_dry_run_report_and_email_say_the_same_words_with_thousands(wizard: Page, running_app, tmp_path: Path) -> None:
    from .helpers import USERS

    page = wizard
    path = write_csv(
        tmp_path / "twelve hundred.csv",
        [["Email", "Full name"]] + [[f"words{n}@vocabulary.example.com", f"Word Person {n}"] for n in range(1_200)],
    )
    upload(page, path)
    next_step(page, "Identify and map columns")
    next_step(page, "Options")
    page.get_by_role("button", name="Preview").click()
    said = "1,200 rows: 1,200 new, 0 updated, 0 merged, 0 unchanged, 0 invalid, 0 conflicts"
    expect(page.get_by_role("list", name="Totals")).to_contain_text(said, timeout=JOB_TIMEOUT)
    expect(page.get_by_text("Page 1 of 48 (1,200 rows)")).to_be_visible()
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)
    expect(page.get_by_label("Totals")).to_have_text(said)
    assert said in _mail_body(running_app, USERS["marketer"], "twelve hundred.csv")


def test_xls_ods_and_xlsb_workbooks_are_imported(wizard: Page, running_app, tmp_path: Path) -> None:
    from tests.unit.services.importing.books import write_ods, write_xls, write_xlsb

    from .import_files import jobs_for, profile_by_email

    page = wizard
    expect(page.get_by_text(re.compile(r"\.xls, \.xlsb, \.ods\) of up to"))).to_be_visible()
    header = ["Email", "Full name", "City"]
    old = write_xls(
        tmp_path / "old members.xls", {"Members": [header, ["xls.one@books.example.com", "Xls One", "Huế"]]}
    )
    ods = write_ods(
        tmp_path / "calc members.ods", {"Members": [header, ["ods.one@books.example.com", "Ods One", "Vinh"]]}
    )
    xlsb = write_xlsb(tmp_path / "binary members.xlsb", [header, ["xlsb.one@books.example.com", "Xlsb One", "Huế"]])
    upload(page, old, ods, xlsb)
    next_step(page, "Identify and map columns")
    expect(page.get_by_role("table", name="Column mapping")).to_contain_text("xls.one@books.example.com")
    next_step(page, "Options")
    page.get_by_role("button", name="Preview").click()
    totals = page.get_by_role("list", name="Totals")
    for name in ("old members.xls", "calc members.ods", "binary members.xlsb"):
        expect(totals.get_by_role("listitem").filter(has_text=name)).to_contain_text(
            "1 row: 1 new", timeout=JOB_TIMEOUT
        )
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)
    # the last of the three runs after the others: its report says when it is done
    [last] = jobs_for(running_app, "binary members.xlsb")
    page.goto(f"/imports/{last.id}")
    # the tab's state first comes back as the last report left it: wait for this report's own
    expect(page.get_by_role("heading", name="binary members.xlsb")).to_be_visible(timeout=JOB_TIMEOUT)
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=JOB_TIMEOUT)
    assert profile_by_email(running_app, "ods.one@books.example.com").city == "Vinh"
    [last] = jobs_for(running_app, "binary members.xlsb")
    assert last.counts.get("created") == 1, (last.status, last.counts, last.error)
    assert profile_by_email(running_app, "xlsb.one@books.example.com").full_name == "Xlsb One"
