"""The possible duplicates page in Chromium: a marketer reviews the suggestions, merges one
pair choosing the surviving values, marks one "not the same person" (and it stays so after
another scan), merges two pairs in one go after a confirmation; a viewer has no such page
and duplicate events sent by hand as a viewer are refused.

The module seeds its own profiles ("Dup Test …") and finds their pairs with the
incremental scan (so the rest of the app's data adds no pairs); it removes them at the end.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import Identity, Profile, utcnow, with_folded_name
from profile_ui.models.duplicate import DuplicateCandidate
from profile_ui.pages.duplicates_state import DuplicatesState
from profile_ui.services.dedupe.scan import scan_profiles
from profile_ui.services.deletion import purge_profiles
from profile_ui.services.permissions import SYSTEM_ACTOR

from .helpers import RunningApp, app_db
from .test_hand_crafted_requests import HandSocket, _session_token

pytestmark = pytest.mark.e2e

# name, birthday, city, e-mail: four pairs, each the same person written twice
PEOPLE = [
    ("Dup Test Nguyễn Hải Yến", date(1990, 5, 6), "Hà Nội", "dup.yen@e2e.example.com"),
    ("Dup Test Nguyen Hai Yen", date(1990, 5, 6), "Ha Noi", "dup.yen@e2e-mail.example.org"),
    ("Dup Test Robert Stone", date(1975, 2, 14), "Boston", "dup.rstone@e2e.example.com"),
    ("Dup Test Bob Stone", date(1975, 2, 14), "Boston", "dup.rstnoe@e2e.example.com"),
    ("Dup Test Trần Minh Châu", date(1988, 9, 9), "Huế", "dup.chau@e2e.example.com"),
    ("Dup Test Châu Trần Minh", date(1988, 9, 9), "Huế", "dup.chau@e2e-mail.example.org"),
    ("Dup Test Lê Đăng Khoa", date(2001, 12, 1), "Vinh", "dup.khoa@e2e.example.com"),
    ("DUP TEST LE DANG KHOA", date(2001, 12, 1), None, "dup.khoa@e2e-mail.example.org"),
]


@pytest.fixture(scope="module")
def people(running_app: RunningApp) -> list[int]:
    now = utcnow()
    with app_db(running_app) as session:
        start = (session.exec(select(sa.func.max(Profile.id))).one() or 0) + 1
        ids = list(range(start, start + len(PEOPLE)))
        session.execute(
            sa.insert(Profile),
            [
                with_folded_name(row)
                for row in [
                    {
                        "id": pid,
                        "full_name": name,
                        "birthday": birthday,
                        "city": city,
                        "status": "active",
                        "initial_source": "e2e",
                        "attributes": {},
                        "created_at": now - timedelta(days=30),
                        "updated_at": now,
                    }
                    for pid, (name, birthday, city, _email) in zip(ids, PEOPLE, strict=True)
                ]
            ],
        )
        session.execute(
            sa.insert(Identity),
            [
                {
                    "profile_id": pid,
                    "kind": "email",
                    "value": email,
                    "is_encrypted": False,
                    "source_type": "seed",
                    "source_name": "e2e",
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for pid, (*_rest, email) in zip(ids, PEOPLE, strict=True)
            ],
        )
        session.flush()
        scan_profiles(session=session, actor=SYSTEM_ACTOR, profile_ids=ids)
    yield ids
    with app_db(running_app) as session:
        purge_profiles(session=session, profile_ids=ids)


def _pair(running_app: RunningApp, a: int, b: int) -> DuplicateCandidate:
    with app_db(running_app) as session:
        return session.exec(
            select(DuplicateCandidate).where(DuplicateCandidate.profile_a_id == a, DuplicateCandidate.profile_b_id == b)
        ).one()


def _profile(running_app: RunningApp, profile_id: int) -> Profile:
    with app_db(running_app) as session:
        return session.get(Profile, profile_id)


def test_marketer_reviews_merges_one_choosing_values_and_marks_one_not_the_same(
    marketer_page: Page, people: list[int], running_app: RunningApp
) -> None:
    page = marketer_page
    yen, yen2, robert, bob, chau, chau2, khoa, khoa2 = people
    page.goto("/profiles")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Duplicates").click()
    expect(page.get_by_role("heading", name="Possible duplicates")).to_be_visible()
    expect(page.get_by_text("A lower minimum finds more of the real duplicates (recall)")).to_be_visible()

    # the side-by-side view says why, in words
    pair = page.get_by_role("region", name=f"Possible duplicate #{yen} and #{yen2}")
    expect(pair).to_contain_text("same name, date of birth and city")
    expect(pair).to_contain_text("same e-mail name at another domain")
    expect(pair.get_by_role("table")).to_contain_text("Ha Noi")

    # merge it, keeping the second profile's spelling of the city
    pair.get_by_role("button", name=f"Merge #{yen} and #{yen2}").click()
    dialog = page.get_by_role(
        "dialog", name=f"Merge #{yen2} Dup Test Nguyen Hai Yen into #{yen} Dup Test Nguyễn Hải Yến"
    )
    city = dialog.get_by_role("group", name="City")
    expect(city.get_by_role("radio", name="Hà Nội")).to_be_checked()  # the suggestion: the survivor's
    city.get_by_role("radio", name="Ha Noi").check()
    dialog.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status").filter(has_text=f"Profile #{yen2} merged into #{yen}").first).to_be_visible()
    expect(page.get_by_role("region", name=f"Possible duplicate #{yen} and #{yen2}")).to_have_count(0)
    assert _profile(running_app, yen).city == "Ha Noi"
    assert _profile(running_app, yen2).status == "deleted"
    assert _pair(running_app, yen, yen2).status == "merged"

    # Robert and Bob Stone: a reviewer knows they are father and son
    stone = page.get_by_role("region", name=f"Possible duplicate #{robert} and #{bob}")
    expect(stone).to_contain_text("nickname")
    stone.get_by_role("button", name=f"Not the same person: #{robert} and #{bob}").click()
    expect(page.get_by_role("region", name=f"Possible duplicate #{robert} and #{bob}")).to_have_count(0)
    assert _pair(running_app, robert, bob).status == "not_same"
    with app_db(running_app) as session:  # another scan: still not suggested
        scan_profiles(session=session, actor=SYSTEM_ACTOR, profile_ids=[robert, bob])
    page.reload()
    expect(page.get_by_role("region", name=f"Possible duplicate #{chau} and #{chau2}")).to_be_visible()
    expect(page.get_by_role("region", name=f"Possible duplicate #{robert} and #{bob}")).to_have_count(0)
    page.get_by_label("Show").select_option("not_same")
    expect(page.get_by_role("region", name=f"Possible duplicate #{robert} and #{bob}")).to_be_visible()
    page.get_by_label("Show").select_option("open")

    # two pairs in one go, after a confirmation
    page.get_by_role("checkbox", name=f"Select #{chau} and #{chau2}").click()
    page.get_by_role("checkbox", name=f"Select #{khoa} and #{khoa2}").click()
    page.get_by_role("button", name="Merge selected pairs").click()
    confirm = page.get_by_role("alertdialog", name="Merge the selected pairs?")
    expect(confirm).to_contain_text("2 pairs selected")
    confirm.get_by_role("button", name="Merge pairs").click()
    expect(page.get_by_role("status").filter(has_text="Merged 2 pairs").first).to_be_visible()
    assert _profile(running_app, chau2).status == _profile(running_app, khoa2).status == "deleted"
    assert _profile(running_app, khoa).city == "Vinh"  # the suggestion kept the survivor's city


def test_viewer_has_no_duplicates_page_and_hand_sent_events_are_refused(
    viewer_page: Page, people: list[int], running_app: RunningApp
) -> None:
    page = viewer_page
    page.goto("/profiles")
    navigation = page.get_by_role("navigation", name="Main navigation")
    expect(navigation.get_by_role("link", name="Profiles")).to_be_visible()
    expect(navigation.get_by_role("link", name="Duplicates")).to_have_count(0)
    page.goto("/duplicates")
    expect(page.get_by_role("alert")).to_contain_text("You don't have access to Possible duplicates")
    expect(page.get_by_role("button", name="Merge selected pairs")).to_have_count(0)

    with app_db(running_app) as session:
        before = {(p.id, p.status) for p in session.exec(select(DuplicateCandidate)).all()}
        pair = session.exec(select(DuplicateCandidate.id).where(DuplicateCandidate.profile_a_id.in_(people))).first()
    socket = HandSocket(running_app)
    try:
        socket.hydrate(_session_token(running_app, "viewer"))
        state = DuplicatesState.get_full_name()
        updates = []
        for handler, payload in (
            (f"{state}.decide", {"pair_id": str(pair), "decision": "not_same"}),
            (f"{state}.open_merge", {"pair_id": str(pair)}),
            (f"{state}.confirm_merge", {"form_data": {"keep-city": "merged"}}),
            (f"{state}.merge_selected", {}),
            (f"{state}.set_filter", {"name": "status", "value": "merged"}),
        ):
            updates += socket.send(handler, payload)
        answer = json.dumps([u.get("events") for u in updates])
        assert answer.count("not allowed") >= 5 and "profiles.merge" in answer
    finally:
        socket.close()
    with app_db(running_app) as session:
        assert {(p.id, p.status) for p in session.exec(select(DuplicateCandidate)).all()} == before


def test_an_import_row_that_looks_like_a_profile_is_flagged_and_sent_to_review(
    marketer_page: Page, people: list[int], running_app: RunningApp
) -> None:
    from .import_files import profile_by_email

    page = marketer_page
    khoa = people[6]
    page.goto("/imports/new")
    page.get_by_label("Or paste rows").fill(
        "Email\tFull name\tBirthday\ndup.khoa.new@e2e-new.example.net\tKhoa Le Dang Dup Test\t2001-12-01\n"
    )
    page.get_by_role("button", name="Use pasted rows").click()
    page.get_by_role("button", name="Next").click()
    expect(page.locator('[aria-current="step"]')).to_contain_text("Identify and map columns", timeout=60_000)
    page.get_by_role("button", name="Next").click()
    choice = page.get_by_role("radiogroup", name="Rows that look like an existing profile")
    expect(choice.get_by_role("radio", name="Create them and send them to the duplicates review")).to_be_checked()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text(f"possible duplicate of #{khoa} (")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Confirm import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    job_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_label("Import status")).to_have_text("completed", timeout=60_000)
    expect(page.get_by_label("Totals")).to_contain_text("1 possible duplicates")
    created = profile_by_email(running_app, "dup.khoa.new@e2e-new.example.net")
    try:
        page.goto("/duplicates")
        page.get_by_label("Import").select_option(job_id)
        pair = page.get_by_role("region", name=f"Possible duplicate #{khoa} and #{created.id}")
        expect(pair).to_contain_text(f"from import #{job_id}")
        expect(pair).to_contain_text("same name")
    finally:
        with app_db(running_app) as session:
            purge_profiles(session=session, profile_ids=[created.id])
