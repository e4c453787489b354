"""Export in Chromium: the dialog on /profiles (count, columns, what is left out), a small
export downloaded at once with its labels, formula-looking cells neutralized in CSV and
xlsx, a role without phone export, a large export in the background (bell, e-mail, the
download link for its owner only) and the /exports page."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import ExportJob, Role, utcnow

from .helpers import PASSWORD, USERS, ProfileData, RunningApp, app_db, run_import, user_id

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 120_000
TAG_GROUP = "Export E2E"
NO_PHONE_ROLE = "exporter_no_phone"
NO_PHONE_USER = "nophone@e2e.example.com"
OTHER_MARKETER = "marketer2@e2e.example.com"
BULK = 1_000  # settings.export_sync_limit: from here on exports run in the background


@dataclass
class ExportData:
    channel_tag: str  # "Export E2E: Channel", three small profiles
    bulk_tag: str  # "Export E2E: Bulk", BULK profiles
    small: dict[str, int]  # name -> profile id


def _create_user(session, email: str, role: str) -> None:
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.users import create_user

    create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=PASSWORD, role=role)


@pytest.fixture(scope="module")
def export_data(running_app: RunningApp, profile_data: ProfileData, tmp_path_factory) -> ExportData:
    """Three profiles tagged Channel (one named "=1+1"), BULK profiles tagged Bulk (imported
    with the CLI), a role that may export every identity kind but phone with its user, and
    a second marketer."""
    from profile_ui.services import profile_edit, workspace_settings
    from profile_ui.services.permissions import (
        PROFILES_EXPORT,
        PROFILES_VIEW,
        SYSTEM_ACTOR,
        export_identity_permission,
    )
    from profile_ui.services.profiles import tag_profiles

    small: dict[str, int] = {}
    with app_db(running_app) as session:
        group = workspace_settings.create_tag_group(session=session, actor=SYSTEM_ACTOR, name=TAG_GROUP)
        channel = workspace_settings.create_tag(
            session=session, actor=SYSTEM_ACTOR, group_id=group.id, name="Channel", kind="text"
        )
        bulk = workspace_settings.create_tag(
            session=session, actor=SYSTEM_ACTOR, group_id=group.id, name="Bulk", kind="text"
        )
        for n, name in enumerate(("Export Small Alpha", "Export Small Beta", "=1+1"), start=1):
            result = profile_edit.create_profile(
                session=session,
                actor=SYSTEM_ACTOR,
                values={"full_name": name, "city": "Huế"},
                identities={
                    "email": f"export.small{n}@e2e.example.com",
                    "phone": f"+8491300000{n}",
                    "user_id": f"EXP-{n:04d}",
                },
            )
            small[name] = result.profile_id
        tag_profiles(
            session=session, actor=SYSTEM_ACTOR, tag_id=channel.id, value="Web", profile_ids=list(small.values())
        )
        session.add(
            Role(
                name=NO_PHONE_ROLE,
                description="Exports without phone numbers",
                permissions=[
                    PROFILES_VIEW,
                    PROFILES_EXPORT,
                    export_identity_permission("email"),
                    export_identity_permission("user_id"),
                ],
            )
        )
        session.flush()
        _create_user(session, NO_PHONE_USER, NO_PHONE_ROLE)
        _create_user(session, OTHER_MARKETER, "marketer")
        bulk_id = bulk.id
    rows = [
        {"email": f"bulk.export.{n:04d}@e2e.example.com", "full_name": f"Bulk Export {n:04d}"}
        for n in range(1, BULK + 1)
    ]
    run_import(
        running_app,
        rows,
        {
            "columns": {"email": "identity:email", "full_name": "full_name"},
            "options": {"tag_ids": [bulk_id], "tag_value": "yes"},
        },
        tmp_path_factory.mktemp("export-import"),
    )
    return ExportData(channel_tag=f"{TAG_GROUP}: Channel", bulk_tag=f"{TAG_GROUP}: Bulk", small=small)


def _signed_in(browser, base_url: str, email: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return context, page


@pytest.fixture(scope="module")
def marketer(browser, base_url: str, export_data: ExportData):
    context, page = _signed_in(browser, base_url, USERS["marketer"])
    yield page
    context.close()


# ------------------------------------------------------------ helpers
def _list_by_tag(page: Page, tag: str, count: int) -> None:
    page.goto("/profiles")
    page.get_by_role("combobox", name="Tag", exact=True).click()
    page.get_by_role("option", name=tag, exact=True).click()
    page.get_by_role("button", name="Query").click()
    expect(page.get_by_role("navigation", name="Pages").get_by_role("status")).to_have_text(
        f"{count:,} profile{'' if count == 1 else 's'}"
    )


def _open_dialog(page: Page):
    page.get_by_role("button", name="Export", exact=True).click()
    dialog = page.get_by_role("dialog", name="Export profiles")
    expect(dialog).to_be_visible()
    return dialog


def _choose(dialog, fields: str, fmt: str) -> None:
    dialog.get_by_role("radio", name=fields).click()
    expect(dialog.get_by_role("radio", name=fields)).to_be_checked()
    dialog.get_by_role("radio", name=fmt).click()
    expect(dialog.get_by_role("radio", name=fmt)).to_be_checked()


def _download(page: Page, dialog) -> tuple[str, bytes]:
    with page.expect_download() as info:
        dialog.get_by_role("button", name="Export", exact=True).click()
    download = info.value
    expect(dialog).to_be_hidden()
    return download.suggested_filename, Path(download.path()).read_bytes()


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _xlsx_sheet(data: bytes) -> tuple[str, str]:
    """The first sheet's XML and the shared strings (if any) of an xlsx file."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        names = book.namelist()
        sheet = book.read(next(n for n in sorted(names) if n.startswith("xl/worksheets/sheet"))).decode()
        shared = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in names else ""
    return sheet, shared


def _mail(running_app: RunningApp, to: str, subject: str, wait_s: float = 60):
    """The newest e-mail to `to` whose subject holds `subject`, once the app has sent it."""
    deadline = time.monotonic() + wait_s
    while True:
        mails = [m for m in running_app.inbox if m["To"] == to and subject in m["Subject"]]
        if mails or time.monotonic() > deadline:
            assert mails, [m["Subject"] for m in running_app.inbox]
            return mails[-1]
        time.sleep(0.2)


def _last_export(email: str, running_app: RunningApp) -> ExportJob:
    uid = user_id(running_app, email)
    with app_db(running_app) as session:
        return session.exec(select(ExportJob).where(ExportJob.created_by == uid).order_by(ExportJob.id.desc())).first()


# ------------------------------------------------------------ tests
def test_a_viewer_has_no_export(viewer_page: Page) -> None:
    page = viewer_page
    page.goto("/profiles")
    expect(page.get_by_role("button", name="Column display")).to_be_visible()
    expect(page.get_by_role("button", name="Export", exact=True)).to_have_count(0)
    page.goto("/exports")
    expect(page.get_by_role("alert")).to_contain_text("You don't have access to Exports.")


def test_exports_page_is_empty_then_follows_an_export_being_written(
    browser, base_url: str, export_data: ExportData, running_app: RunningApp, tmp_path: Path
) -> None:
    context, page = _signed_in(browser, base_url, OTHER_MARKETER)
    try:
        page.goto("/exports")
        expect(page.get_by_text("No exports yet")).to_be_visible()
        expect(page.get_by_role("table", name="Exports")).to_have_count(0)

        # an export being written (as a job would leave it): the page follows it to the end
        with app_db(running_app) as session:
            job = ExportJob(
                created_by=user_id(running_app, OTHER_MARKETER),
                status="running",
                format="csv",
                fields_mode="all",
                filter={},
                columns=["id"],
            )
            session.add(job)
            session.flush()
            job_id = job.id
        page.reload()
        row = page.get_by_role("table", name="Exports").locator("tbody tr")
        expect(row).to_contain_text("running")
        expect(row).to_contain_text("Being written; you will be notified")
        file = tmp_path / "profiles-e2e.csv"
        file.write_bytes(b"\xef\xbb\xbfProfile ID\r\n")
        with app_db(running_app) as session:
            done = session.get(ExportJob, job_id)
            done.status, done.file_path, done.finished_at = "completed", str(file), utcnow()
            done.expires_at = utcnow() + timedelta(hours=1)
            session.add(done)
        expect(row).to_contain_text("completed")
        expect(row.get_by_role("link", name=f"Download export {job_id}")).to_be_visible()
    finally:
        context.close()


def test_small_export_of_the_filtered_list_downloads_at_once_with_labels(
    marketer: Page, export_data: ExportData, running_app: RunningApp
) -> None:
    page = marketer
    _list_by_tag(page, export_data.channel_tag, 3)
    dialog = _open_dialog(page)
    expect(dialog).to_contain_text("The profiles matching the list's query and filters")
    _choose(dialog, "All fields", "CSV (.csv)")
    expect(dialog.get_by_role("status", name="Export size")).to_contain_text("3 profiles will be exported")
    expect(dialog.get_by_role("note", name="Columns left out")).to_have_count(0)
    name, data = _download(page, dialog)
    assert name.endswith(".csv")
    rows = _csv_rows(data)
    headers = list(rows[0])
    assert headers[0] == "Profile ID"
    for header in ("EMAIL(UNENCRYPTED)", "PHONE(UNENCRYPTED)", "USER_ID(UNENCRYPTED)", "Full name", "Channel"):
        assert header in headers, headers
    by_name = {r["Full name"]: r for r in rows}
    alpha = by_name["Export Small Alpha"]
    assert alpha["Profile ID"] == str(export_data.small["Export Small Alpha"])
    assert alpha["EMAIL(UNENCRYPTED)"] == "export.small1@e2e.example.com"
    assert alpha["PHONE(UNENCRYPTED)"] == "+84913000001"
    assert alpha["Channel"] == "Web"
    # a formula-looking cell gets a leading ' in CSV
    assert "'=1+1" in by_name and "=1+1" not in by_name

    job = _last_export(USERS["marketer"], running_app)
    assert (job.status, job.format, job.fields_mode, job.row_count) == ("completed", "csv", "all", 3)


def test_selected_profiles_export_to_xlsx_with_formulas_as_text(marketer: Page, export_data: ExportData) -> None:
    page = marketer
    _list_by_tag(page, export_data.channel_tag, 3)
    table = page.get_by_role("table", name="Profiles")
    table.get_by_role("checkbox", name="Select =1+1").click()
    table.get_by_role("checkbox", name="Select Export Small Beta").click()
    dialog = _open_dialog(page)
    expect(dialog).to_contain_text("The 2 selected profiles.")
    _choose(dialog, "Displayed fields", "Excel (.xlsx)")
    expect(dialog.get_by_role("status", name="Export size")).to_contain_text("2 profiles will be exported")
    name, data = _download(page, dialog)
    assert name.endswith(".xlsx")
    sheet, shared = _xlsx_sheet(data)
    assert "<f>" not in sheet and "<f " not in sheet  # no formula anywhere
    assert "=1+1" in sheet + shared  # written as text
    assert "Export Small Beta" in sheet + shared and "Export Small Alpha" not in sheet + shared


def test_a_role_without_phone_export_gets_no_phone_column_and_is_told(
    browser, base_url: str, export_data: ExportData
) -> None:
    context, page = _signed_in(browser, base_url, NO_PHONE_USER)
    try:
        _list_by_tag(page, export_data.channel_tag, 3)
        dialog = _open_dialog(page)
        _choose(dialog, "Displayed fields", "ZIP of CSV (.zip)")
        left_out = dialog.get_by_role("note", name="Columns left out")
        expect(left_out).to_contain_text("PHONE(UNENCRYPTED)")
        expect(left_out).to_contain_text("your role may not export phone identities")
        expect(dialog.get_by_label("Columns of the file")).to_contain_text("EMAIL(UNENCRYPTED)")
        expect(dialog.get_by_label("Columns of the file")).not_to_contain_text("PHONE")
        name, data = _download(page, dialog)
        assert name.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inside = archive.namelist()
            assert len(inside) == 1 and inside[0].endswith(".csv"), inside
            rows = _csv_rows(archive.read(inside[0]))
        assert len(rows) == 3
        assert not [h for h in rows[0] if h.startswith("PHONE")], list(rows[0])
        assert "EMAIL(UNENCRYPTED)" in rows[0]
    finally:
        context.close()


def test_large_export_runs_in_the_background_and_only_its_owner_may_download_it(
    marketer: Page, export_data: ExportData, running_app: RunningApp, browser, base_url: str
) -> None:
    page = marketer
    _list_by_tag(page, export_data.bulk_tag, BULK)
    dialog = _open_dialog(page)
    _choose(dialog, "Displayed fields", "CSV (.csv)")
    expect(dialog.get_by_role("status", name="Export size")).to_contain_text(f"{BULK:,} profiles will be exported")
    expect(dialog).to_contain_text("the export runs in the background")
    dialog.get_by_role("button", name="Export in the background").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text(f"Exporting {BULK:,} profiles in the background")).to_be_visible()

    # the tab is told when the job is done; the bell holds the link
    expect(page.get_by_text("Your export is ready")).to_be_visible(timeout=JOB_TIMEOUT)
    job = _last_export(USERS["marketer"], running_app)
    assert (job.status, job.row_count) == ("completed", BULK)
    url = f"/exports/{job.id}/download"
    page.get_by_role("button", name=re.compile(r"^Notifications \(\d+ unread\)")).click()
    bell = page.get_by_role("dialog", name="Notifications")
    with page.expect_download() as info:
        bell.get_by_role("button", name=re.compile(f"Your export of {BULK:,} profiles is ready")).click()
    rows = _csv_rows(Path(info.value.path()).read_bytes())
    assert len(rows) == BULK and rows[0]["Full name"].startswith("Bulk Export")

    # the e-mail (sent just after the job commits) carries the full link
    mail = _mail(running_app, USERS["marketer"], f"{BULK:,} profiles is ready")
    assert f"{running_app.url}{url}" in mail.get_payload(decode=True).decode()

    # the link over HTTP: the owner gets the file, another user and no one signed in do not
    response = page.context.request.get(url)
    assert response.status == 200 and "attachment" in response.headers["content-disposition"]
    assert len(_csv_rows(response.body())) == BULK
    other_context, other = _signed_in(browser, base_url, OTHER_MARKETER)
    try:
        response = other.context.request.get(url)
        # answered as if it did not exist: another user cannot tell which export ids exist
        assert response.status == 404 and "does not exist, or it is not yours" in response.text()
        other.goto(url)
        expect(other.get_by_role("heading", name="Export not found")).to_be_visible()
    finally:
        other_context.close()
    anonymous = browser.new_context(base_url=base_url)
    try:
        response = anonymous.request.get(url)
        assert response.status == 401 and "Sign in" in response.text()
    finally:
        anonymous.close()

    # an expired link says so
    with app_db(running_app) as session:
        expired = session.get(ExportJob, job.id)
        expired.expires_at = utcnow() - timedelta(hours=1)
        session.add(expired)
    response = page.context.request.get(url)
    assert response.status == 410 and "expired" in response.text()


def test_exports_page_lists_the_users_exports_newest_first(
    marketer: Page, export_data: ExportData, running_app: RunningApp
) -> None:
    """After the tests above: the large export (its link expired), the xlsx of 2 and the
    CSV of 3 profiles; the no-phone user's export is not the marketer's."""
    page = marketer
    uid = user_id(running_app, USERS["marketer"])
    with app_db(running_app) as session:
        jobs = session.exec(
            select(ExportJob)
            .where(ExportJob.created_by == uid)
            .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
        ).all()
    assert [j.row_count for j in jobs] == [BULK, 2, 3]
    page.goto("/exports")
    rows = page.get_by_role("table", name="Exports").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(f"{BULK:,}")
    expect(rows.nth(0)).to_contain_text("Link expired")
    expect(rows.nth(0).get_by_role("link")).to_have_count(0)
    expect(rows.nth(1)).to_contain_text("Excel (.xlsx)")
    expect(rows.nth(1)).to_contain_text("Displayed fields")
    expect(rows.nth(2)).to_contain_text("CSV (.csv)")
    expect(rows.nth(2)).to_contain_text("All fields")
    with page.expect_download() as info:
        rows.nth(2).get_by_role("link", name=f"Download export {jobs[2].id}").click()
    assert len(_csv_rows(Path(info.value.path()).read_bytes())) == 3
