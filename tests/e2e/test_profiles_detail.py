"""User 360 in Chromium: inline edit (Enter, blur, Esc, an invalid value), the lock that
keeps a hand-edited value through an import (and the admin's unlock), the Edit dialog,
tagging one profile, identity information, deactivate/reactivate; a viewer sees no edit
controls, and edit events sent by hand as the viewer are refused by the server."""

from __future__ import annotations

import json
import queue
import re
import uuid
from pathlib import Path

import pytest
import socketio
from playwright.sync_api import Page, expect
from sqlmodel import select

from profile_ui.models import AttributeProvenance, FieldDefinition, Profile
from profile_ui.pages.profiles.detail_state import ProfileDetailState
from profile_ui.pages.settings.fields import FieldsTab
from profile_ui.services.users import sign_in
from profile_ui.state.base import SESSION_COOKIE, AppState

from .helpers import PASSWORD, USERS, ProfileData, RunningApp, app_db, run_import

pytestmark = pytest.mark.e2e

LOCKED = "Locked: imports won't change it"


def _field_row(page: Page, label: str):
    """The row of one attribute on the Basic information tab (its row header names it)."""
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label, exact=True))


def _start_edit(page: Page, label: str):
    row = _field_row(page, label)
    row.hover()
    row.get_by_role("button", name=f"Edit {label}").click()
    editor = row.get_by_label(label, exact=True)
    expect(editor).to_be_focused()
    return row, editor


def test_inline_edit_enter_blur_escape_and_invalid_value(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp
) -> None:
    page = admin_page
    person = profile_data.profiles["edit"]
    page.goto(f"/profiles/{person.id}")
    expect(page.get_by_role("heading", name=person.name)).to_be_visible()

    # Enter saves, and the value is locked against imports
    row, editor = _start_edit(page, "City")
    editor.fill("Quy Nhơn")
    editor.press("Enter")
    expect(row.get_by_label("City", exact=True)).to_have_count(0)
    expect(row).to_contain_text("Quy Nhơn")
    expect(row.get_by_role("img", name=LOCKED)).to_be_visible()

    # clicking elsewhere saves
    row, editor = _start_edit(page, "Full name")
    editor.fill("Vũ Quốc Edit Blur")
    page.get_by_role("heading", name="Member information").click()
    expect(page.get_by_role("heading", name="Vũ Quốc Edit Blur")).to_be_visible()
    expect(row.get_by_role("img", name=LOCKED)).to_be_visible()

    # Esc cancels
    row, editor = _start_edit(page, "City")
    editor.fill("Nowhere")
    editor.press("Escape")
    expect(row.get_by_label("City", exact=True)).to_have_count(0)
    expect(row).to_contain_text("Quy Nhơn")

    # an invalid value: the error shows in place, nothing is saved, Esc leaves it
    row, editor = _start_edit(page, "Birthday")
    editor.fill("31/31/1990")
    editor.press("Enter")
    expect(row.get_by_role("alert")).to_contain_text("is not a date")
    expect(editor).to_have_attribute("aria-invalid", "true")
    editor.press("Escape")
    expect(row.get_by_role("alert")).to_have_count(0)
    expect(row.get_by_role("img", name=LOCKED)).to_have_count(0)

    with app_db(running_app) as session:
        profile = session.get(Profile, person.id)
        assert (profile.city, profile.full_name, profile.birthday) == ("Quy Nhơn", "Vũ Quốc Edit Blur", None)
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("City: Vinh → Quy Nhơn")


def test_a_locked_value_survives_an_import_until_an_admin_unlocks_it(
    admin_page: Page, profile_data: ProfileData, running_app: RunningApp, tmp_path: Path
) -> None:
    page = admin_page
    person = profile_data.profiles["edit"]  # City was edited by hand in the test above
    with app_db(running_app) as session:
        assert session.get(AttributeProvenance, (person.id, "city")).locked
    run_import(
        running_app,
        [{"email": person.email, "city": "Imported City", "level": "Platinum"}],
        {"columns": {"email": "identity:email", "city": "city", "level": "member_level"}},
        tmp_path,
    )

    page.goto(f"/profiles/{person.id}")
    expect(_field_row(page, "Member level")).to_contain_text("Platinum")  # the import ran
    city = _field_row(page, "City")
    expect(city).to_contain_text("Quy Nhơn")  # ... and left the locked value alone
    expect(city.get_by_role("img", name=LOCKED)).to_be_visible()
    # the person's History says what the import did, and what it left alone
    line = page.get_by_role("region", name="History").get_by_role("row").filter(has_text="import (profiles): updated")
    expect(line).to_contain_text("Member level:")
    expect(line).to_contain_text("→ Platinum")
    expect(line).to_contain_text("kept as edited by hand: City (the file had Imported City)")

    city.hover()
    city.get_by_role("button", name="Unlock City").click()
    expect(city.get_by_role("img", name=LOCKED)).to_have_count(0)
    with app_db(running_app) as session:
        assert not session.get(AttributeProvenance, (person.id, "city")).locked


def test_edit_dialog_saves_several_fields(admin_page: Page, profile_data: ProfileData) -> None:
    page = admin_page
    person = profile_data.profiles["hoa"]
    page.goto(f"/profiles/{person.id}")
    page.get_by_role("button", name="Edit", exact=True).click()
    dialog = page.get_by_role("dialog", name="Edit profile")
    dialog.get_by_label("City", exact=True).fill("Hội An")
    dialog.get_by_label("Member level", exact=True).fill("platinum")
    dialog.get_by_label("Birthday", exact=True).fill("tomorrow-ish")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("is not a date")).to_be_visible()
    dialog.get_by_label("Birthday", exact=True).fill("1985-05-20")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_field_row(page, "City")).to_contain_text("Hội An")
    expect(_field_row(page, "Member level")).to_contain_text("Platinum")
    expect(_field_row(page, "Birthday")).to_contain_text("1985-05-20")
    for label in ("City", "Member level", "Birthday"):
        expect(_field_row(page, label).get_by_role("img", name=LOCKED)).to_be_visible()
    expect(_field_row(page, "Full name").get_by_role("img", name=LOCKED)).to_have_count(0)


def test_tag_one_profile_and_see_its_identities(admin_page: Page, profile_data: ProfileData) -> None:
    page = admin_page
    person = profile_data.profiles["linh"]
    page.goto(f"/profiles/{person.id}")
    page.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_role("dialog", name="Tag")
    expect(dialog.get_by_role("radio")).to_have_count(0)  # one person by hand: imports keep it
    dialog.get_by_role("combobox", name="Tag group").click()
    page.get_by_role("option", name="E2E", exact=True).click()
    dialog.get_by_role("combobox", name="Tag", exact=True).click()
    page.get_by_role("option", name="Hobby", exact=True).click()
    dialog.get_by_label("Tag value").fill("Hiking")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("list", name="Tags")).to_contain_text("E2E: Hobby = Hiking")
    expect(page.get_by_role("region", name="History")).to_contain_text("profile: tag")

    page.get_by_role("tab", name="Identity information").click()
    identities = page.get_by_role("tabpanel", name="Identity information")
    for value in (person.email, person.phone, person.user_id):
        expect(identities.get_by_text(value, exact=True)).to_be_visible()
    identities.get_by_text(person.email, exact=True).hover()
    tooltip = page.get_by_role("tooltip")
    expect(tooltip).to_contain_text("Source: Entered by hand")
    expect(tooltip).to_contain_text("Not encrypted")


def test_deactivate_and_reactivate(admin_page: Page, profile_data: ProfileData) -> None:
    page = admin_page
    person = profile_data.profiles["viewer"]
    page.goto(f"/profiles/{person.id}")
    dialog = page.get_by_role("alertdialog")
    page.get_by_role("button", name="Deactivate").click()
    expect(dialog).to_contain_text("Deactivate this profile?")
    dialog.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("deactivated", exact=True)).to_be_visible()
    expect(dialog).to_have_count(0)  # closed (and its closing animation done) before reopening
    page.get_by_role("button", name="Reactivate").click()
    expect(dialog).to_contain_text("Reactivate this profile?")
    dialog.get_by_role("button", name="Reactivate").click()
    expect(page.get_by_text("active", exact=True)).to_be_visible()


# ------------------------------------------------------------ the viewer
def test_viewer_sees_no_edit_controls(viewer_page: Page, profile_data: ProfileData) -> None:
    page = viewer_page
    person = profile_data.profiles["viewer"]
    page.goto("/profiles")
    expect(page.get_by_role("table", name="Profiles").get_by_role("link").first).to_be_visible()
    expect(page.get_by_role("link", name="New profile")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)  # nothing to select rows for

    page.goto(f"/profiles/{person.id}")
    expect(page.get_by_role("heading", name=person.name)).to_be_visible()
    _field_row(page, "City").hover()
    for name in ("Edit", "Tag", "Add tag", "Deactivate", "Add identity"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^(Edit|Unlock|Remove) "))).to_have_count(0)

    page.goto("/profiles/new")
    expect(page.get_by_role("alert")).to_contain_text("You don't have access to New profile.")


class _Socket:
    """Reflex's event protocol over socket.io, as a script would send it (the same
    protocol as test_hand_crafted_requests.py, with a page's own router data)."""

    namespace = "/_event"

    def __init__(self, app: RunningApp, session_token: str) -> None:
        self.updates: queue.Queue[dict] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self.updates.put, namespace=self.namespace)
        self.sio.connect(
            f"{app.url}?token={uuid.uuid4()}",
            # the server reads the session from the socket's Cookie header, as a browser sends it
            headers={"cookie": f"{SESSION_COOKIE}={session_token}"},
            socketio_path=self.namespace,
            namespaces=[self.namespace],
            transports=["websocket"],
            wait_timeout=15,
        )

    def send(self, handler: str, payload: dict, router_data: dict, until: str = "") -> str:
        """Emit one event; collect what it causes until `until` shows up in it (or, without
        `until`, until the server has been quiet for a moment)."""
        self.sio.emit(
            "event", {"name": handler, "payload": payload, "router_data": router_data}, namespace=self.namespace
        )
        received = [json.dumps(self.updates.get(timeout=15), ensure_ascii=False)]
        while not (until and until in "".join(received)):
            try:
                received.append(json.dumps(self.updates.get(timeout=15 if until else 0.5), ensure_ascii=False))
            except queue.Empty:
                break
        return "".join(received)


def test_edit_events_sent_by_hand_as_the_viewer_are_refused(running_app: RunningApp, profile_data: ProfileData) -> None:
    person = profile_data.profiles["viewer"]
    with app_db(running_app) as session:
        token, _ = sign_in(session=session, email=USERS["viewer"], password=PASSWORD)
        city_before = session.get(Profile, person.id).city
    route = {
        "pathname": "/profiles/[profile_id]",
        "asPath": f"/profiles/{person.id}",
        "query": {"profile_id": str(person.id)},
    }
    detail = ProfileDetailState.get_full_name()
    sock = _Socket(running_app, token)
    try:
        sock.send(f"{AppState.get_full_name().split('.')[0]}.hydrate_and_load", {"vars": {}}, route)
        sock.send(f"{detail}.on_load", {}, route)
        sock.send(f"{detail}.start_edit", {"key": "city"}, route)
        answers = [
            sock.send(
                f"{detail}.submit_inline",
                {"form_data": {"field_key": "city", "value": "Hacked"}},
                route,
                until="not allowed",
            ),
            sock.send(f"{detail}.toggle_active", {}, route, until="not allowed"),
            sock.send(
                f"{FieldsTab.get_full_name()}.create_field",
                {"form_data": {"label": "Sneaky", "type": "text"}},
                {"pathname": "/settings", "asPath": "/settings"},
                until="not allowed",
            ),
        ]
    finally:
        sock.sio.disconnect()
    for answer, permission in zip(answers, ("profiles.edit", "profiles.edit", "settings.manage"), strict=True):
        assert "not allowed" in answer and permission in answer, answer
    with app_db(running_app) as session:
        profile = session.get(Profile, person.id)
        assert (profile.city, profile.status) == (city_before, "active")
        assert session.get(FieldDefinition, "sneaky") is None
        assert (
            session.exec(
                select(AttributeProvenance).where(
                    AttributeProvenance.profile_id == person.id, AttributeProvenance.locked
                )
            ).all()
            == []
        )
