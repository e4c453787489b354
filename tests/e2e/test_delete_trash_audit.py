"""Delete, trash, GDPR erasure and the audit log in Chromium: delete one profile with a
reason from User 360 (an empty reason is refused), delete 100 selected profiles (101 are
refused), restore from the trash, purge after the retention window (the same e-mail then
comes back as a new person), erase a person's data, and find each of these in the audit
log with its filters and its CSV export.

The module seeds its own profiles ("Trash Test …", "Trash Batch …") and removes what is
left of them at the end, so the other modules' lists are as they expect. The audit log
test runs last: it reads the events the tests before it wrote.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect
from sqlmodel import select

from profile_ui.models import AuditEvent, Identity, LinkedObject, Profile, utcnow
from profile_ui.pages.audit_state import AuditState
from profile_ui.pages.profiles.delete_state import DeleteState, EraseState
from profile_ui.pages.trash_state import TrashState
from profile_ui.services.deletion import delete_profiles, purge_profiles
from profile_ui.services.users import actor_for_email

from .helpers import USERS, RunningApp, app_db, insert_profiles, run_import
from .test_hand_crafted_requests import HandSocket, _session_token
from .test_profiles_list import _choose, _query, _total

pytestmark = pytest.mark.e2e

SINGLES = ("Trash Test One", "Trash Test Restore", "Trash Test Purge", "Trash Test Erase")
BATCH = 101


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@e2e.example.com"


@pytest.fixture(scope="module")
def people(running_app: RunningApp) -> dict[str, int]:
    """The module's own profiles, by name: four single ones (with a linked ticket each)
    and 101 "Trash Batch NNN"; whatever is left of them is removed at the end."""
    now = utcnow()
    names = [*SINGLES, *[f"Trash Batch {n:03d}" for n in range(1, BATCH + 1)]]
    with app_db(running_app) as session:
        start = (session.exec(select(sa.func.max(Profile.id))).one() or 0) + 1
        ids = dict(zip(names, range(start, start + len(names)), strict=True))
        insert_profiles(
            session,
            [
                {
                    "id": pid,
                    "full_name": name,
                    "status": "active",
                    "initial_source": "generated",
                    "attributes": {},
                    "created_at": now - timedelta(days=400),
                    "updated_at": now - timedelta(days=400),
                }
                for name, pid in ids.items()
            ],
        )
        session.execute(
            sa.insert(Identity),
            [
                {
                    "profile_id": pid,
                    "kind": "email",
                    "value": _email(name),
                    "is_encrypted": False,
                    "source_type": "seed",
                    "source_name": "e2e",
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for name, pid in ids.items()
            ],
        )
        session.execute(
            sa.insert(LinkedObject),
            [
                {"profile_id": ids[name], "object_type": "ticket", "name": f"Ticket of {name}", "created_at": now}
                for name in SINGLES
            ],
        )
    yield ids
    with app_db(running_app) as session:
        left = list(session.exec(select(Profile.id).where(Profile.id.in_(list(ids.values())))).all())
        left += list(
            session.exec(select(Identity.profile_id).where(Identity.value == _email("Trash Test Purge"))).all()
        )
        purge_profiles(session=session, profile_ids=left)


def _search_trash(page: Page, text: str) -> None:
    page.get_by_role("searchbox", name="Search the trash").fill(text)
    page.get_by_role("button", name="Search").click()


def _refuse_without_reason(dialog: Locator, button: str, doing: str) -> None:
    """Submit the reason dialog empty: refused in place, saying a reason is needed."""
    dialog.get_by_role("button", name=button).click()
    expect(dialog.get_by_role("alert")).to_contain_text(f"Give a reason for {doing}")


def _give_reason(dialog: Locator, button: str, reason: str) -> None:
    dialog.get_by_label("Reason").fill(reason)
    dialog.get_by_role("button", name=button).click()


def _status(running_app: RunningApp, profile_id: int) -> str | None:
    with app_db(running_app) as session:
        profile = session.get(Profile, profile_id)
        return None if profile is None else profile.status


def _delete_as_admin(running_app: RunningApp, profile_id: int, reason: str) -> None:
    with app_db(running_app) as session:
        delete_profiles(
            session=session,
            actor=actor_for_email(session=session, email=USERS["admin"]),
            profile_ids=[profile_id],
            reason=reason,
        )


# ------------------------------------------------------------ delete
def test_delete_one_profile_from_user_360_with_a_reason(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    name = "Trash Test One"
    page.goto(f"/profiles/{people[name]}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_role("button", name="Delete profile").click()
    dialog = page.get_by_role("dialog", name=f"Delete {name}?")
    expect(dialog).to_contain_text("removes the profile's links to accounts, opportunities, tickets and tasks")

    # an empty reason is refused in place; nothing is deleted
    _refuse_without_reason(dialog, "Delete", "deleting")
    expect(dialog.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    assert _status(running_app, people[name]) == "active"

    _give_reason(dialog, "Delete", "Duplicate of another customer")
    expect(page).to_have_url(f"{running_app.url}/profiles")
    expect(page.get_by_text("Deleted 1 profile").last).to_be_visible()
    _query(page, name)
    expect(_total(page)).to_have_text("0 profiles")
    _query(page, _email(name))  # search by e-mail finds nothing either
    expect(_total(page)).to_have_text("0 profiles")

    with app_db(running_app) as session:
        profile = session.get(Profile, people[name])
        assert profile.status == "deleted" and profile.deleted_reason == "Duplicate of another customer"
        assert (
            session.exec(
                select(sa.func.count()).select_from(LinkedObject).where(LinkedObject.profile_id == people[name])
            ).one()
            == 0
        )
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "profiles.delete", AuditEvent.object_id == str(people[name]))
        ).one()
        assert event.actor_email == USERS["admin"] and event.reason == "Duplicate of another customer"
        assert event.details["profile_ids"] == [people[name]]


def test_delete_100_selected_profiles_and_refuse_101(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    page.goto("/profiles")
    _query(page, "Trash Batch")
    expect(_total(page)).to_have_text(f"{BATCH} profiles")
    _choose(page, "Rows per page", "100")
    rows = page.get_by_role("table", name="Profiles").locator("tbody tr")
    expect(rows).to_have_count(100)

    # 101: all matching is one too many
    page.get_by_role("checkbox", name="Select all rows on this page").click()
    selection = page.get_by_role("region", name="Selection")
    expect(selection).to_contain_text("100 profiles selected")
    selection.get_by_role("button", name=f"Select all {BATCH} matching").click()
    expect(selection).to_contain_text(f"All {BATCH} matching profiles selected")
    selection.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Select at most 100 profiles to delete at once (you selected 101)").last).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)

    # 100: the page's rows
    selection.get_by_role("button", name="Clear selection").click()
    page.get_by_role("checkbox", name="Select all rows on this page").click()
    expect(selection).to_contain_text("100 profiles selected")
    selection.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete 100 profiles?")
    expect(dialog).to_contain_text("tickets and tasks")
    _refuse_without_reason(dialog, "Delete 100 profiles", "deleting")
    _give_reason(dialog, "Delete 100 profiles", "Test accounts from the spring campaign")
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Deleted 100 profiles").last).to_be_visible()
    expect(_total(page)).to_have_text("1 profile")
    expect(rows).to_have_count(1)

    batch_ids = [pid for name, pid in people.items() if name.startswith("Trash Batch")]
    with app_db(running_app) as session:
        statuses = session.exec(
            select(Profile.status, sa.func.count()).where(Profile.id.in_(batch_ids)).group_by(Profile.status)
        ).all()
        assert dict(statuses) == {"deleted": 100, "active": 1}
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "profiles.delete", AuditEvent.reason == "Test accounts from the spring campaign"
            )
        ).one()
        assert event.details["count"] == 100


# ------------------------------------------------------------ trash
def test_restore_from_the_trash_brings_the_profile_back(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    name = "Trash Test Restore"
    _delete_as_admin(running_app, people[name], "Unsubscribed by mistake")

    page.goto("/trash")
    table = page.get_by_role("table", name="Deleted profiles")
    row = table.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(USERS["admin"])
    expect(row).to_contain_text("Unsubscribed by mistake")
    expect(row).to_contain_text("30 days")
    _search_trash(page, name)
    expect(table.locator("tbody tr")).to_have_count(1)

    page.get_by_role("checkbox", name=f"Select {name}").click()
    page.get_by_role("button", name="Restore").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("1 profile selected")
    dialog.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status").filter(has_text="Restored 1 profile")).to_be_visible()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    assert _status(running_app, people[name]) == "active"

    page.goto("/profiles")
    _query(page, name)
    expect(_total(page)).to_have_text("1 profile")
    expect(page.get_by_role("link", name=name)).to_be_visible()


def test_purge_after_the_window_frees_the_email_for_a_new_person(
    admin_page: Page, people: dict[str, int], running_app: RunningApp, tmp_path: Path
) -> None:
    page = admin_page
    name = "Trash Test Purge"
    _delete_as_admin(running_app, people[name], "Left the company")
    page.goto("/trash")
    expect(page.get_by_role("table", name="Deleted profiles")).to_contain_text(name)

    # 31 days later: the deletion is moved back, then the operator's purge command runs
    with app_db(running_app) as session:
        session.execute(
            sa.update(Profile).where(Profile.id == people[name]).values(deleted_at=utcnow() - timedelta(days=31))
        )
    page.reload()
    _search_trash(page, name)
    row = page.get_by_role("table", name="Deleted profiles").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Purged at the next run")
    expect(page.get_by_role("checkbox", name=f"Select {name}")).to_have_count(0)  # too late

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REFLEX_REDIS_URL")}
    env.update(DATA_DIR=str(running_app.data_dir), DATABASE_URL=running_app.database_url, ENVIRONMENT="test")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "profile-ui"), "purge"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _status(running_app, people[name]) is None

    page.goto("/trash")
    _search_trash(page, name)
    expect(page.get_by_text("The trash is empty.")).to_be_visible()

    # the same e-mail imports as a new person
    report = run_import(
        running_app,
        [{"email": _email(name), "name": "Trash Test Purge Again"}],
        {"columns": {"email": "identity:email", "name": "full_name"}},
        tmp_path,
    )
    assert report["new"] == 1, report
    page.goto("/profiles")
    _query(page, _email(name))
    expect(_total(page)).to_have_text("1 profile")
    expect(page.get_by_role("link", name="Trash Test Purge Again")).to_be_visible()
    with app_db(running_app) as session:
        owner = session.exec(select(Identity.profile_id).where(Identity.value == _email(name))).one()
        assert owner != people[name]


# ------------------------------------------------------------ GDPR erasure
def test_admin_erases_a_persons_data_with_a_reason_and_two_confirmations(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    name = "Trash Test Erase"
    page.goto(f"/profiles/{people[name]}")
    page.get_by_role("button", name="Erase personal data").click()
    dialog = page.get_by_role("dialog", name="Erase this person's personal data (GDPR)?")
    _refuse_without_reason(dialog, "Continue", "erasing")
    _give_reason(dialog, "Continue", f"Request from {_email(name)}")
    confirm = page.get_by_role("alertdialog", name="Erase for good?")
    confirm.get_by_role("button", name="Erase for good").click()
    # the reason quoted the person's e-mail: back to the reason, nothing erased
    dialog = page.get_by_role("dialog", name="Erase this person's personal data (GDPR)?")
    expect(dialog.get_by_role("alert")).to_contain_text("must not contain the person's personal data")
    assert _status(running_app, people[name]) == "active"

    _give_reason(dialog, "Continue", "GDPR request no. 12")
    confirm.get_by_role("button", name="Erase for good").click()
    expect(page).to_have_url(f"{running_app.url}/profiles")
    expect(page.get_by_text(f"Profile {people[name]} erased").last).to_be_visible()
    assert _status(running_app, people[name]) is None
    with app_db(running_app) as session:
        assert session.exec(select(Identity).where(Identity.value == _email(name))).all() == []
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "profile.erase")).one()
        assert event.object_id == str(people[name]) and event.reason == "GDPR request no. 12"
        assert name not in str(event.details) and _email(name) not in str(event.details)


def test_marketer_has_no_delete_trash_or_audit(marketer_page: Page, people: dict[str, int]) -> None:
    page = marketer_page
    page.goto(f"/profiles/{people['Trash Test Restore']}")
    expect(page.get_by_role("heading", name="Trash Test Restore")).to_be_visible()
    expect(page.get_by_role("button", name="Delete profile")).to_have_count(0)
    expect(page.get_by_role("button", name="Erase personal data")).to_have_count(0)
    for path, title in (("/trash", "Trash"), ("/audit", "Audit log")):
        page.goto(path)
        expect(page.get_by_role("alert")).to_contain_text(f"You don't have access to {title}.")


def _audit_count(running_app: RunningApp) -> int:
    with app_db(running_app) as session:
        return session.exec(select(sa.func.count()).select_from(AuditEvent)).one()


def test_marketer_events_sent_by_hand_delete_restore_erase_and_export_nothing(
    running_app: RunningApp, people: dict[str, int]
) -> None:
    socket = HandSocket(running_app)
    try:
        socket.hydrate(_session_token(running_app, "marketer"))
        events_before = _audit_count(running_app)
        updates = []
        for handler in (
            f"{DeleteState.get_full_name()}.open_for_selection",
            f"{DeleteState.get_full_name()}.open_for_profile",
            f"{EraseState.get_full_name()}.start",
            f"{TrashState.get_full_name()}.restore",
            f"{AuditState.get_full_name()}.export_csv",
        ):
            updates += socket.send(handler)
        answer = json.dumps([u.get("events") for u in updates])
        for permission in ("profiles.delete", "trash.manage", "audit.view"):
            assert "not allowed" in answer and permission in answer
        assert answer.count("not allowed") >= 5
        assert _audit_count(running_app) == events_before  # nothing done, nothing exported
        assert _status(running_app, people["Trash Test Restore"]) == "active"
    finally:
        socket.close()


# ------------------------------------------------------------ audit log (runs last)
def _filter_action(page: Page, action: str) -> None:
    _choose(page, "Action", action)
    page.get_by_role("button", name="Apply filters").click()


def _filter_days(page: Page, first: date, last: date) -> None:
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_label("To", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Apply filters").click()


def test_audit_log_shows_each_action_and_filters_and_exports_them(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    page.goto("/audit")
    events = page.get_by_role("table", name="Audit events")
    body = events.locator("tbody tr")
    expect(body.first).to_be_visible()

    # each action of this module, by the Action filter
    for action, expected in (
        ("profiles.delete", "Duplicate of another customer"),
        ("profiles.restore", "Unsubscribed by mistake"),
        ("profiles.purge", "profile_ids"),
        ("profile.erase", "GDPR request no. 12"),
    ):
        _filter_action(page, action)
        expect(body.filter(has_not_text=action)).to_have_count(0)
        expect(events).to_contain_text(expected)

    # actor and object: the delete of one profile, by the admin
    _choose(page, "Action", "profiles.delete")
    _choose(page, "Actor", USERS["admin"])
    _choose(page, "Object type", "profile")
    page.get_by_label("Object ID").fill(str(people["Trash Test One"]))
    page.get_by_role("button", name="Apply filters").click()
    expect(body).to_have_count(1)
    expect(body).to_contain_text("Duplicate of another customer")
    expect(_total(page)).to_have_text("1 event")

    # today's range keeps it; a range that starts tomorrow finds nothing
    today = utcnow().date()
    _filter_days(page, today, today)
    expect(body).to_have_count(1)
    _filter_days(page, today + timedelta(days=1), today + timedelta(days=2))
    expect(page.get_by_text("No events match.")).to_be_visible()

    # the CSV holds the filtered events: every profile deletion of this module
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_label("Object ID")).to_have_value("")
    _filter_action(page, "profiles.delete")
    expect(body.filter(has_not_text="profiles.delete")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    with app_db(running_app) as session:
        deletes = session.exec(
            select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "profiles.delete")
        ).one()
    assert len(rows) == deletes and {r["Action"] for r in rows} == {"profiles.delete"}
    assert {"Duplicate of another customer", "Test accounts from the spring campaign"} <= {r["Reason"] for r in rows}
    # the export is in the log too
    _filter_action(page, "audit.export")
    expect(body.first).to_contain_text(USERS["admin"])
