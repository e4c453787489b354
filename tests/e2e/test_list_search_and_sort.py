"""The profile list in Chromium: the query box ignores accents ("nguyen" finds "Nguyễn"),
also in a text custom field shown as a column ("da nang" finds "Đà Nẵng"), and the list
sorts by a custom attribute, by the primary e-mail and by a tag shown as columns; the
column display says which columns sort (and how a multi-value tag does) and which the
query box searches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from .helpers import RunningApp, app_db
from .test_profiles_list import _query, _rows, _total  # the list as that module drives it

pytestmark = pytest.mark.e2e


def _create(
    app: RunningApp, people: list[dict[str, str]], field: tuple[str, str] | None = None, field_type: str = "number"
) -> None:
    from profile_ui.models import fold_name
    from profile_ui.services import profile_edit, workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR

    with app_db(app) as session:
        if field is not None:
            workspace_settings.create_field(
                session=session, actor=SYSTEM_ACTOR, label=field[0], key=field[1], type=field_type
            )
        for values in people:  # a hand-made profile needs an e-mail or a phone
            email = (
                values.pop("email", None)
                or fold_name(values["full_name"]).replace(" ", ".") + "@search-sort.example.com"
            )
            profile_edit.create_profile(session=session, actor=SYSTEM_ACTOR, values=values, identities={"email": email})


def test_query_typed_without_accents_finds_accented_names(admin_page: Page, running_app: RunningApp) -> None:
    _create(running_app, [{"full_name": "Nguyễn Thị Dấu"}, {"full_name": "Nguyễn Văn Dấu"}])
    page = admin_page
    page.goto("/profiles")
    _query(page, "nguyen thi dau")
    expect(_total(page)).to_have_text("1 profile")
    expect(_rows(page).get_by_role("link", name="Nguyễn Thị Dấu")).to_be_visible()
    _query(page, "NGUYEN")  # any case: both, and no one else is called Nguyễn
    expect(_total(page)).to_have_text("2 profiles")
    _query(page, "tran thi")  # an e2e profile made by hand: Trần Thị Linh
    expect(_rows(page).get_by_role("link", name="Trần Thị Linh")).to_be_visible()


def _show_column(page: Page, label: str, note: str | None = None) -> None:
    page.get_by_role("button", name="Column display").click()
    dialog = page.get_by_role("dialog", name="Column display")
    checkbox = dialog.get_by_role("checkbox", name=label, exact=True)
    if note:
        # said beside this field's checkbox: the innermost block holding both holds no other
        # checkbox (other fields of the shared app may carry the same note beside theirs)
        this_box = page.get_by_role("checkbox", name=label, exact=True)  # `has` looks inside each div
        beside = dialog.locator("div").filter(has=this_box).filter(has_text=note).last
        expect(beside.get_by_role("checkbox")).to_have_count(1)
    checkbox.click()
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()


def _forget_column_choice(app: RunningApp, key: str) -> None:
    """The admin back to no column choice of their own (the default applies), for other tests."""
    from profile_ui.models import ViewPreference

    with app_db(app) as session:
        for preference in session.exec(select(ViewPreference).where(ViewPreference.user_id != 0)).all():
            if key in (preference.settings or {}).get("columns", []):
                session.delete(preference)


def test_query_searches_a_shown_text_field_without_accents(admin_page: Page, running_app: RunningApp) -> None:
    _create(
        running_app,
        [
            {"full_name": "Searchcheck One", "searchcheck_store": "Đà Nẵng Riverside"},
            {"full_name": "Searchcheck Two", "searchcheck_store": "Hà Nội Center"},
        ],
        field=("Searchcheck store", "searchcheck_store"),
        field_type="text",
    )
    page = admin_page
    page.goto("/profiles")
    _query(page, "da nang riverside")
    expect(_total(page)).to_have_text("0 profiles")  # the field is not shown: not searched
    _show_column(page, "Searchcheck store", "(sorts · query box searches it)")
    try:
        expect(page.get_by_role("columnheader", name="Sort by Searchcheck store")).to_be_visible()
        _query(page, "da nang riverside")
        expect(_total(page)).to_have_text("1 profile")
        expect(_rows(page).get_by_role("link", name="Searchcheck One")).to_be_visible()
        _query(page, "HA NOI")
        expect(_total(page)).to_have_text("1 profile")
        expect(_rows(page).get_by_role("link", name="Searchcheck Two")).to_be_visible()
    finally:
        _forget_column_choice(running_app, "searchcheck_store")


def test_sort_by_a_custom_attribute_column(admin_page: Page, running_app: RunningApp) -> None:
    _create(
        running_app,
        [
            {"full_name": "Sortcheck Alpha", "sortcheck_points": "300"},
            {"full_name": "Sortcheck Bravo", "sortcheck_points": "20"},
            {"full_name": "Sortcheck Charlie", "sortcheck_points": "1000"},
        ],
        field=("Sortcheck points", "sortcheck_points"),
    )
    page = admin_page
    page.goto("/profiles")
    _query(page, "sortcheck")
    expect(_total(page)).to_have_text("3 profiles")
    _show_column(page, "Sortcheck points")
    try:
        header = page.get_by_role("columnheader", name="Sort by Sortcheck points")
        expect(header).to_be_visible()
        page.get_by_role("button", name="Sort by Sortcheck points").click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        # by number, not by text: 20 < 300 < 1000
        expect(_rows(page).get_by_role("link")).to_have_text(
            ["Sortcheck Bravo", "Sortcheck Alpha", "Sortcheck Charlie"]
        )
        page.get_by_role("button", name="Sort by Sortcheck points").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        expect(_rows(page).get_by_role("link")).to_have_text(
            ["Sortcheck Charlie", "Sortcheck Alpha", "Sortcheck Bravo"]
        )
    finally:
        _forget_column_choice(running_app, "sortcheck_points")


def test_sort_by_primary_email(admin_page: Page, running_app: RunningApp) -> None:
    # e-mails in another order than the names, so the sort shows which one it used
    _create(
        running_app,
        [
            {"full_name": "Mailsort Alpha", "email": "mailsort-c@search-sort.example.com"},
            {"full_name": "Mailsort Bravo", "email": "mailsort-a@search-sort.example.com"},
            {"full_name": "Mailsort Charlie", "email": "mailsort-b@search-sort.example.com"},
        ],
    )
    page = admin_page
    page.goto("/profiles")
    page.get_by_role("button", name="Column display").click()
    dialog = page.get_by_role("dialog", name="Column display")
    # e-mail and phone sort (stored in plain text here); user id does not
    expect(dialog.get_by_role("group", name="Identities").get_by_text("(sorts)")).to_have_count(2)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    _query(page, "mailsort")
    expect(_total(page)).to_have_text("3 profiles")
    header = page.get_by_role("columnheader", name="Sort by Email")
    page.get_by_role("button", name="Sort by Email").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(_rows(page).get_by_role("link")).to_have_text(["Mailsort Bravo", "Mailsort Charlie", "Mailsort Alpha"])
    page.get_by_role("button", name="Sort by Email").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(_rows(page).get_by_role("link")).to_have_text(["Mailsort Alpha", "Mailsort Charlie", "Mailsort Bravo"])


def _tagged(app: RunningApp, tiers: dict[str, str | None]) -> str:
    """Profiles named as `tiers`' keys, tagged "Tagsort: Tier" with the value given (None:
    not tagged); the group also has a multi-value tag, "Tagsort: Hobbies". Returns the
    Tier column's key."""
    from profile_ui.services import profile_edit, workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.profiles import tag_profiles

    with app_db(app) as session:
        group = workspace_settings.create_tag_group(session=session, actor=SYSTEM_ACTOR, name="Tagsort")
        tier = workspace_settings.create_tag(session=session, actor=SYSTEM_ACTOR, group_id=group.id, name="Tier")
        workspace_settings.create_tag(
            session=session, actor=SYSTEM_ACTOR, group_id=group.id, name="Hobbies", kind="multi"
        )
        for name, value in tiers.items():
            email = name.lower().replace(" ", ".") + "@search-sort.example.com"
            made = profile_edit.create_profile(
                session=session, actor=SYSTEM_ACTOR, values={"full_name": name}, identities={"email": email}
            )
            if value is not None:
                tag_profiles(
                    session=session, actor=SYSTEM_ACTOR, tag_id=tier.id, value=value, profile_ids=[made.profile_id]
                )
        return f"tag:{tier.id}"


def test_sort_by_a_tag_column(admin_page: Page, running_app: RunningApp) -> None:
    # tier values in another order than the names; Charlie has no tier
    tiers = {"Tagsort Alpha": "gold", "Tagsort Bravo": "bronze", "Tagsort Charlie": None, "Tagsort Delta": "silver"}
    tier_column = _tagged(running_app, tiers)
    page = admin_page
    page.goto("/profiles")
    page.get_by_role("button", name="Column display").click()
    dialog = page.get_by_role("dialog", name="Column display")
    # a multi-value tag sorts by its first value, and the column display says so
    hobbies = page.get_by_role("checkbox", name="Tagsort: Hobbies", exact=True)
    beside = dialog.locator("div").filter(has=hobbies).filter(has_text="(sorts by its first value)").last
    expect(beside.get_by_role("checkbox")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    _query(page, "tagsort")
    expect(_total(page)).to_have_text("4 profiles")
    _show_column(page, "Tagsort: Tier", "(sorts)")
    try:
        header = page.get_by_role("columnheader", name="Sort by Tagsort: Tier")
        page.get_by_role("button", name="Sort by Tagsort: Tier").click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        # by the tier, the profile without one last
        expect(_rows(page).get_by_role("link")).to_have_text(
            ["Tagsort Bravo", "Tagsort Alpha", "Tagsort Delta", "Tagsort Charlie"]
        )
        expect(_rows(page).first).to_contain_text("bronze")
        page.get_by_role("button", name="Sort by Tagsort: Tier").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        # the other way round, the profile without a tier still last
        expect(_rows(page).get_by_role("link")).to_have_text(
            ["Tagsort Delta", "Tagsort Alpha", "Tagsort Bravo", "Tagsort Charlie"]
        )
        expect(_rows(page).first).to_contain_text("silver")
    finally:
        _forget_column_choice(running_app, tier_column)
