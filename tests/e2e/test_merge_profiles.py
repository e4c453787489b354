"""Merging two profiles and undoing it, in Chromium: a marketer merges two profiles from
the list choosing the surviving values, then undoes it from User 360 and sees both back;
User 360's "Merge with…"; the audit log's "Undo merge"; a viewer sees no merge controls
and a merge event sent by hand as a viewer is refused.

The module seeds its own profiles ("Merge Test …") and removes them at the end.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import Identity, Profile, ProfileMerge, ProfileTag, Tag, TagGroup, utcnow, with_folded_name
from profile_ui.pages.profiles.merge_state import MergeDialogState, UnmergeState
from profile_ui.services.deletion import purge_profiles
from profile_ui.services.merging import merge_profiles
from profile_ui.services.users import actor_for_email

from .helpers import USERS, RunningApp, app_db
from .test_hand_crafted_requests import HandSocket, _session_token
from .test_profiles_list import _query, _total

pytestmark = pytest.mark.e2e

PEOPLE = {
    "Merge Test Linh": {"city": "Hanoi", "member_level": "Gold", "email": "merge.linh@e2e.example.com"},
    "Merge Test Linh N": {"city": "Hue", "member_level": None, "email": "merge.linh.n@e2e.example.com"},
    "Merge Test Quan": {"city": "Da Nang", "member_level": "Silver", "email": "merge.quan@e2e.example.com"},
    "Merge Test Quan B": {"city": "Da Nang", "member_level": None, "email": "merge.quan.b@e2e.example.com"},
    "Merge Test Audit": {"city": "Vinh", "member_level": None, "email": "merge.audit@e2e.example.com"},
    "Merge Test Audit B": {"city": "Hue", "member_level": None, "email": "merge.audit.b@e2e.example.com"},
}


@pytest.fixture(scope="module")
def people(running_app: RunningApp) -> dict[str, int]:
    now = utcnow()
    with app_db(running_app) as session:
        start = (session.exec(select(sa.func.max(Profile.id))).one() or 0) + 1
        ids = dict(zip(PEOPLE, range(start, start + len(PEOPLE)), strict=True))
        session.execute(
            sa.insert(Profile),
            [
                with_folded_name(row)
                for row in [
                    {
                        "id": pid,
                        "full_name": name,
                        "city": PEOPLE[name]["city"],
                        "member_level": PEOPLE[name]["member_level"],
                        "status": "active",
                        "initial_source": "e2e",
                        "attributes": {},
                        "created_at": now - timedelta(days=500),
                        "updated_at": now,
                    }
                    for name, pid in ids.items()
                ]
            ],
        )
        session.execute(
            sa.insert(Identity),
            [
                {
                    "profile_id": pid,
                    "kind": "email",
                    "value": PEOPLE[name]["email"],
                    "is_encrypted": False,
                    "source_type": "seed",
                    "source_name": "e2e",
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for name, pid in ids.items()
            ],
        )
        # the hand-sent test runs apart from the page tests (pytest groups the [chromium] ones),
        # so this fixture may run twice in a session: names must not clash
        group = TagGroup(name=f"Merge tests {uuid.uuid4().hex[:6]}")
        session.add(group)
        session.flush()
        tag = Tag(group_id=group.id, name="Merge VIP", kind="text")
        session.add(tag)
        session.flush()
        session.add(ProfileTag(profile_id=ids["Merge Test Linh N"], tag_id=tag.id, value="yes"))
    yield ids
    with app_db(running_app) as session:
        purge_profiles(session=session, profile_ids=list(ids.values()))


def _status(running_app: RunningApp, profile_id: int) -> str:
    with app_db(running_app) as session:
        return session.get(Profile, profile_id).status


def _merge_as(running_app: RunningApp, role: str, survivor: int, merged: int) -> int:
    with app_db(running_app) as session:
        actor = actor_for_email(session=session, email=USERS[role])
        return merge_profiles(
            session=session, actor=actor, survivor_id=survivor, merged_id=merged, reason="seeded by the test"
        ).merge_id


def test_merge_two_from_the_list_choosing_values_then_unmerge_from_user_360(
    marketer_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = marketer_page
    linh, linh_n = people["Merge Test Linh"], people["Merge Test Linh N"]
    page.goto("/profiles")
    _query(page, "Merge Test Linh")
    expect(_total(page)).to_have_text("2 profiles")
    selection = page.get_by_role("region", name="Selection")
    page.get_by_role("checkbox", name="Select Merge Test Linh", exact=True).click()
    expect(selection.get_by_role("button", name="Merge")).to_have_count(0)  # one selected: no Merge
    page.get_by_role("checkbox", name="Select Merge Test Linh N", exact=True).click()
    selection.get_by_role("button", name="Merge").click()

    dialog = page.get_by_role("dialog", name="Merge two profiles")
    expect(dialog).to_contain_text(f"Keeps: #{linh} Merge Test Linh")
    # City differs: the survivor's is suggested; take the merged profile's instead
    city = dialog.get_by_role("group", name="City")
    expect(city.get_by_role("radio", name="Hanoi")).to_be_checked()
    city.get_by_role("radio", name="Hue").check()
    # Member level: only the survivor has one, it is suggested
    expect(dialog.get_by_role("group", name="Member level").get_by_role("radio", name="Gold")).to_be_checked()
    dialog.get_by_role("button", name="Merge").click()
    expect(dialog.get_by_text("Say why these are the same person")).to_be_visible()  # reason needed
    dialog.get_by_label("Reason").fill("Same person: typo in the name, confirmed by phone")
    dialog.get_by_role("button", name="Merge").click()

    expect(page).to_have_url(f"{running_app.url}/profiles/{linh}")
    merged_line = page.get_by_role("region", name="Merged profiles")
    expect(merged_line).to_contain_text(f"Merged from #{linh_n} (Merge Test Linh N)")
    expect(merged_line).to_contain_text("by marketer@e2e.example.com")
    expect(merged_line).to_contain_text("because: Same person: typo in the name, confirmed by phone")
    expect(page.get_by_role("region", name="Basic information")).to_contain_text("Hue")
    expect(page.get_by_role("region", name="Tags")).to_contain_text("Merge VIP")
    assert _status(running_app, linh_n) == "deleted"
    page.goto("/profiles")
    _query(page, "Merge Test Linh")
    expect(_total(page)).to_have_text("1 profile")  # the merged one left the list

    # the merged profile's page says where it went
    page.goto(f"/profiles/{linh_n}")
    notice = page.get_by_role("status", name="Merged into another profile")
    expect(notice).to_contain_text(f"This profile was merged into #{linh} on ")
    notice.get_by_role("link", name=f"Open profile #{linh}").click()

    # undo from User 360: both come back
    expect(page).to_have_url(f"{running_app.url}/profiles/{linh}")
    page.get_by_role("button", name=f"Unmerge profile #{linh_n}").click()
    confirm = page.get_by_role("alertdialog", name="Unmerge these profiles?")
    expect(confirm).to_contain_text(f"Profile #{linh_n} comes back as it was before the merge")
    confirm.get_by_role("button", name="Unmerge").click()
    result = page.get_by_role("status", name="Unmerge result")
    expect(result).to_contain_text(f"Profile #{linh_n} is back as it was before the merge.")
    expect(page.get_by_role("region", name="Merged profiles")).to_have_count(0)
    expect(page.get_by_role("region", name="Basic information")).to_contain_text("Hanoi")
    expect(page.get_by_role("region", name="Tags")).not_to_contain_text("Merge VIP")
    result.get_by_role("link", name=f"Open profile #{linh_n}").click()
    expect(page.get_by_role("heading", name="Merge Test Linh N")).to_be_visible()
    expect(page.get_by_role("region", name="Basic information")).to_contain_text("Hue")
    expect(page.get_by_role("region", name="Tags")).to_contain_text("Merge VIP")
    assert _status(running_app, linh_n) == "active"
    page.goto("/profiles")
    _query(page, "Merge Test Linh")
    expect(_total(page)).to_have_text("2 profiles")


def test_merge_with_another_profile_from_user_360(
    marketer_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = marketer_page
    quan, quan_b = people["Merge Test Quan"], people["Merge Test Quan B"]
    page.goto(f"/profiles/{quan}")
    expect(page.get_by_role("heading", name="Merge Test Quan")).to_be_visible()
    page.get_by_role("button", name="Merge with…").click()
    ask = page.get_by_role("dialog", name=f"Merge profile #{quan} with…")
    ask.get_by_label("Id of the profile to merge into this one").fill("abc")
    ask.get_by_role("button", name="Next").click()
    expect(ask).to_contain_text("Enter the id of the other profile")
    ask.get_by_label("Id of the profile to merge into this one").fill(str(quan_b))
    ask.get_by_role("button", name="Next").click()
    dialog = page.get_by_role("dialog", name="Merge two profiles")
    expect(dialog.get_by_role("list", name="Same in both")).to_contain_text("City: Da Nang")
    dialog.get_by_label("Reason").fill("Same e-mail owner")
    dialog.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("region", name="Merged profiles")).to_contain_text(f"Merged from #{quan_b}")
    assert _status(running_app, quan_b) == "deleted"


def test_undo_a_merge_from_its_audit_log_entry(
    admin_page: Page, people: dict[str, int], running_app: RunningApp
) -> None:
    page = admin_page
    survivor, merged = people["Merge Test Audit"], people["Merge Test Audit B"]
    _merge_as(running_app, "admin", survivor, merged)
    page.goto("/audit")
    undo = page.get_by_role("button", name="Undo merge")
    row = page.get_by_role("row").filter(has=undo).filter(has_text=f"profile {survivor}").first
    row.get_by_role("button", name="Undo merge").click()
    confirm = page.get_by_role("alertdialog", name="Unmerge these profiles?")
    confirm.get_by_role("button", name="Unmerge").click()
    expect(page).to_have_url(f"{running_app.url}/profiles/{survivor}")
    expect(page.get_by_role("status", name="Unmerge result")).to_contain_text(f"Profile #{merged} is back")
    assert _status(running_app, merged) == "active"


def test_viewer_sees_no_merge_controls(viewer_page: Page, people: dict[str, int], running_app: RunningApp) -> None:
    page = viewer_page
    quan = people["Merge Test Quan"]  # merged with Quan B by the test above
    page.goto(f"/profiles/{quan}")
    expect(page.get_by_role("heading", name="Merge Test Quan")).to_be_visible()
    expect(page.get_by_role("region", name="Merged profiles")).to_contain_text("Merged from #")
    expect(page.get_by_role("button", name="Merge with…")).to_have_count(0)
    expect(page.get_by_role("button", name="Unmerge", exact=False)).to_have_count(0)
    page.goto("/profiles")
    _query(page, "Merge Test")
    expect(page.get_by_role("checkbox", name="Select Merge Test Linh", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Merge", exact=True)).to_have_count(0)


def test_merge_and_unmerge_events_sent_by_hand_as_a_viewer_are_refused(
    running_app: RunningApp, people: dict[str, int]
) -> None:
    linh, linh_n = people["Merge Test Linh"], people["Merge Test Linh N"]
    with app_db(running_app) as session:
        merges_before = session.exec(select(sa.func.count()).select_from(ProfileMerge)).one()
        open_merge = session.exec(select(ProfileMerge.id).where(ProfileMerge.undone_at.is_(None))).first()
    socket = HandSocket(running_app)
    try:
        socket.hydrate(_session_token(running_app, "viewer"))
        updates = []
        merge, undo = MergeDialogState.get_full_name(), UnmergeState.get_full_name()
        for handler, payload in (
            (f"{merge}.open_for_selection", {}),
            (f"{merge}.open_for_profile", {}),
            (f"{merge}.choose_other", {"form_data": {"other_id": str(linh_n)}}),
            (f"{merge}.confirm", {"form_data": {"reason": "by hand", "keep-city": "merged"}}),
            (f"{undo}.ask", {"merge_id": open_merge or 1}),
            (f"{undo}.ask_for_event", {"event_id": 1}),
            (f"{undo}.confirm", {}),
        ):
            updates += socket.send(handler, payload)
        answer = json.dumps([u.get("events") for u in updates])
        assert answer.count("not allowed") >= 5 and "profiles.merge" in answer
    finally:
        socket.close()
    with app_db(running_app) as session:
        assert session.exec(select(sa.func.count()).select_from(ProfileMerge)).one() == merges_before
    assert _status(running_app, linh) == _status(running_app, linh_n) == "active"
