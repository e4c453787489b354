"""Membership sync in the browser: a member file for a group, then its review: invites
(with their e-mail), an approved update, a deactivation, a deletion, and a second file
whose Status = active brings the deactivated member back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import GroupMembership, Profile

from .helpers import RunningApp, app_db
from .import_files import profile_by_email, write_csv

pytestmark = pytest.mark.e2e

JOB_TIMEOUT = 60_000
GROUP = "E2E Sync Club"
# key -> (full name, e-mail, city, membership state or None)
PEOPLE = {
    "kim": ("Kim Member", "kim@sync.example.com", "Huế", "active"),  # moves: an update
    "lan": ("Lan Member", "lan@sync.example.com", "Vinh", "active"),  # not in the file: deactivated
    "mai": ("Mai Member", "mai@sync.example.com", "Vinh", "active"),  # not in the file: deleted
    "nam": ("Nam Outsider", "nam@sync.example.com", "Huế", None),  # has a profile: invited
}
NEW = ("Oanh Newcomer", "oanh@sync.example.com", "Hà Nội")  # no profile: created, invited


@pytest.fixture(scope="module")
def club(running_app: RunningApp, profile_data) -> dict[str, int]:
    from profile_ui.services import profile_edit, workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR

    ids: dict[str, int] = {}
    with app_db(running_app) as session:
        group = workspace_settings.create_group(session=session, actor=SYSTEM_ACTOR, name=GROUP)
        ids["group"] = group.id
        for key, (name, email, city, state) in PEOPLE.items():
            ids[key] = profile_edit.create_profile(
                session=session,
                actor=SYSTEM_ACTOR,
                values={"full_name": name, "city": city},
                identities={"email": email},
            ).profile_id
            if state:
                session.add(GroupMembership(group_id=group.id, profile_id=ids[key], state=state))
    return ids


def _state(app: RunningApp, group_id: int, profile_id: int) -> str | None:
    with app_db(app) as session:
        return session.exec(
            select(GroupMembership.state).where(
                GroupMembership.group_id == group_id, GroupMembership.profile_id == profile_id
            )
        ).first()


def _upload_member_file(page: Page, base_url: str, path: Path) -> None:
    """Wizard: membership file for the group -> map (Status left to the review) -> dry run
    -> Confirm leads to the review page."""
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_role("button", name="Upload")).to_be_visible()
    page.get_by_role("radio", name="Membership file for a group").click()
    page.get_by_label("Group", exact=True).select_option(label=GROUP)
    page.locator("input[type=file]").set_input_files([str(path)])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("list", name="Files to import")).to_contain_text(path.name)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Field for E-mail")).to_have_value("identity:email", timeout=JOB_TIMEOUT)
    expect(page.get_by_label("Field for Status")).to_have_value("__ignore__")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Preview").click()
    confirm = page.get_by_role("button", name="Confirm and review members")
    expect(confirm).to_be_visible(timeout=JOB_TIMEOUT)
    confirm.click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/review$"))
    expect(page.get_by_role("region", name="Invite members")).to_be_visible(timeout=JOB_TIMEOUT)


def _success(page: Page, message: str) -> None:
    """The review's success message (after a background action)."""
    expect(page.get_by_role("status").filter(has_text=message)).to_be_visible(timeout=JOB_TIMEOUT)


def _open(page: Page, section: str):
    region = page.get_by_role("region", name=section)
    expect(region.get_by_role("button", name=re.compile("^(Review|Hide)$"))).to_be_visible()
    if region.get_by_role("button", name="Review").count():  # "Hide" when the list is open
        region.get_by_role("button", name="Review").click()
    expect(region.get_by_role("table")).to_be_visible()
    return region


def _approve_update(page: Page, name: str, diff: str) -> None:
    """Approve one member's proposed update (its diff shown) and wait for the success message."""
    update = _open(page, "Update member profiles")
    row = update.get_by_role("row", name=re.compile(name))
    expect(row).to_contain_text(diff)
    row.get_by_role("checkbox", name=f"Select {name}").click()
    update.get_by_role("button", name="Update").click()
    _success(page, "1 member profile updated.")


def _deactivate_or_delete(page: Page, name: str, action: str, reason: str = "") -> None:
    region = _open(page, "Deactivate or delete members")
    region.get_by_label(f"Action for {name}").select_option(action)
    region.get_by_role("button", name="Confirm").click()
    first = page.get_by_role("alertdialog", name="Deactivate or delete members?")
    if reason:
        first.get_by_label("Reason for deleting").fill(reason)
    first.get_by_role("button", name="Confirm").click()
    second = page.get_by_role("alertdialog", name="Are you sure?")
    expect(second).to_be_visible()
    second.get_by_role("button", name="Yes, apply").click()
    expect(second).to_be_hidden()


def test_membership_file_review(
    marketer_page: Page, admin_page: Page, base_url: str, running_app: RunningApp, club: dict[str, int], tmp_path: Path
) -> None:
    page = marketer_page
    first = write_csv(
        tmp_path / "club members.csv",
        [
            ["Full name", "E-mail", "City", "Status"],
            ["Kim Member", "kim@sync.example.com", "Đà Lạt", "active"],
            ["Nam Outsider", "nam@sync.example.com", "Huế", "active"],
            [NEW[0], NEW[1], NEW[2], "active"],
        ],
    )
    _upload_member_file(page, base_url, first)
    review_url = page.url
    assert profile_by_email(running_app, NEW[1]) is None  # nothing changed by the dry run

    # ---- invites: both people without a membership, sent after a confirmation
    invite = _open(page, "Invite members")
    rows = invite.get_by_role("table")
    expect(rows).to_contain_text("Nam Outsider")
    expect(rows).to_contain_text(NEW[0])
    expect(rows).not_to_contain_text("Kim Member")
    invite.get_by_text("Select all 2 pending").click()
    invite.get_by_role("button", name="Send invites").click()
    dialog = page.get_by_role("alertdialog", name="Send invitations?")
    dialog.get_by_role("button", name="Send invites").click()
    _success(page, "Invitations sent to 2 people.")
    expect(rows.get_by_text("Invited")).to_have_count(2)
    newcomer = profile_by_email(running_app, NEW[1])
    assert newcomer is not None and newcomer.full_name == NEW[0]
    assert _state(running_app, club["group"], newcomer.id) == "invited"
    assert _state(running_app, club["group"], club["nam"]) == "invited"
    recipients = {m["To"] for m in running_app.inbox}
    assert {NEW[1], "nam@sync.example.com"} <= recipients
    mail = next(m for m in running_app.inbox if m["To"] == NEW[1])
    assert GROUP in mail["Subject"]

    # ---- one update approved, with its field diff
    _approve_update(page, "Kim Member", "City: Huế → Đà Lạt")
    with app_db(running_app) as session:
        assert session.get(Profile, club["kim"]).city == "Đà Lạt"

    # ---- members not in the file: one deactivated (red Confirm, then a second confirmation)
    missing = _open(page, "Deactivate or delete members")
    expect(missing.get_by_role("table")).to_contain_text("Lan Member")
    expect(missing.get_by_role("table")).to_contain_text("Mai Member")
    # a marketer may not delete profiles: the choice is not offered
    expect(missing.get_by_label("Action for Mai Member").locator("option[value=delete]")).to_have_count(0)
    _deactivate_or_delete(page, "Lan Member", "deactivate")
    _success(page, "1 member deactivated.")
    assert _state(running_app, club["group"], club["lan"]) == "deactivated"

    # ---- an admin deletes the other one (with a reason): it goes to the trash
    admin_page.goto(review_url)
    expect(admin_page.get_by_role("region", name="Invite members")).to_be_visible(timeout=JOB_TIMEOUT)
    _deactivate_or_delete(admin_page, "Mai Member", "delete", reason="Left the club")
    _success(admin_page, "1 profile deleted (in the trash).")
    with app_db(running_app) as session:
        mai = session.get(Profile, club["mai"])
        assert mai.status == "deleted" and mai.deleted_reason == "Left the club"

    # ---- a later file with Status = active brings the deactivated member back
    second = write_csv(
        tmp_path / "club members 2.csv",
        [
            ["Full name", "E-mail", "City", "Status"],
            ["Kim Member", "kim@sync.example.com", "Đà Lạt", "active"],
            ["Lan Member", "lan@sync.example.com", "Vinh", "active"],
        ],
    )
    _upload_member_file(page, base_url, second)
    _approve_update(page, "Lan Member", "Membership: deactivated → active")
    assert _state(running_app, club["group"], club["lan"]) == "active"
