"""Two marketers: both see an import, only the one who submitted it (or an admin) may
confirm, cancel or undo it or download its error file; the other sees no such buttons,
and the same events sent by hand over the websocket change nothing."""

from __future__ import annotations

import json
import queue
import time
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from profile_ui.models import AuditEvent, ImportJob, User
from profile_ui.pages.imports import ImportDetailState
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.users import create_user, sign_in
from profile_ui.state.base import AppState

from . import test_hand_crafted_requests as hand
from .helpers import PASSWORD, USERS, RunningApp, app_db

pytestmark = pytest.mark.e2e

OTHER = "second.marketer@e2e.example.com"


@pytest.fixture(scope="module")
def teammates_import(running_app: RunningApp) -> int:
    """A dry run of the first marketer, waiting for confirmation, with an error file."""
    folder = running_app.data_dir / "errors"
    folder.mkdir(exist_ok=True)
    error_file = folder / f"team-{uuid.uuid4().hex}.xlsx"
    error_file.write_bytes(b"")
    error_file.with_suffix(".csv").write_text("Email,Reasons\nbad,Email: not a valid e-mail address\n")
    with app_db(running_app) as session:
        if session.exec(select(User).where(User.email == OTHER)).first() is None:
            create_user(session=session, actor=SYSTEM_ACTOR, email=OTHER, password=PASSWORD, role="marketer")
        owner = session.exec(select(User.id).where(User.email == USERS["marketer"])).one()
        job = ImportJob(
            batch_id=str(uuid.uuid4()),
            file_name="team leads.csv",
            kind="profiles",
            status="awaiting_confirmation",
            dry_run=True,
            created_by=owner,
            counts={"rows": 2, "created": 1, "invalid": 1},
            error_file_path=str(error_file),
            mapping={"columns": {}},
            options={},
        )
        session.add(job)
        session.flush()
        return job.id


def _signed_in(browser: Browser, base_url: str, email: str) -> Page:
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def test_only_the_submitter_gets_the_controls_of_an_import(
    browser: Browser, base_url: str, teammates_import: int
) -> None:
    controls = ("Confirm import", "Cancel import", "Download the error file")
    other = _signed_in(browser, base_url, OTHER)
    other.goto(f"/imports/{teammates_import}")
    expect(other.get_by_text("team leads.csv").first).to_be_visible()  # the team sees the import
    for name in controls:
        expect(other.get_by_role("button", name=name)).to_have_count(0)
    other.context.close()

    owner = _signed_in(browser, base_url, USERS["marketer"])
    owner.goto(f"/imports/{teammates_import}")
    for name in controls:
        expect(owner.get_by_role("button", name=name)).to_be_visible()
    owner.context.close()


def _send(socket: hand.HandSocket, handler: str, payload: dict | None = None, collect_s: float = 5.0) -> list[dict]:
    """Emit one event and collect what comes back for a while: the report page's watcher
    keeps sending progress while the import waits, so the answer never goes quiet."""
    socket.sio.emit(
        "event", {"name": handler, "payload": payload or {}, "router_data": hand.ROUTER_DATA}, namespace=hand.NAMESPACE
    )
    received, deadline = [], time.monotonic() + collect_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            received.append(socket.updates.get(timeout=left))
        except queue.Empty:
            break
    return received


def test_events_sent_by_hand_by_another_marketer_change_nothing(
    running_app: RunningApp, teammates_import: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/imports/{teammates_import}"
    monkeypatch.setattr(hand, "ROUTER_DATA", {"pathname": "/imports/[id]", "asPath": path})
    with app_db(running_app) as session:
        token, _actor = sign_in(session=session, email=OTHER, password=PASSWORD)
    socket = hand.HandSocket(running_app)
    try:
        # the session cookie goes with the socket's connection, as a browser's does
        socket.sio.disconnect()
        socket.sio = socket._connect({"cookie": f"{hand.SESSION_COOKIE}={token}"})
        _send(socket, f"{AppState.get_full_name().split('.')[0]}.hydrate_and_load", {"vars": {}})
        detail = ImportDetailState.get_full_name()
        updates = []
        for handler in ("download_errors", "confirm", "cancel", "undo"):
            updates += _send(socket, f"{detail}.{handler}")
        answer = json.dumps([u.get("events") for u in updates])
        assert answer.count("submitted by someone else") >= 3
        assert "team leads errors.csv" not in answer  # no file was sent
    finally:
        socket.close()
    with app_db(running_app) as session:
        assert session.get(ImportJob, teammates_import).status == "awaiting_confirmation"
        assert (
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.object_type == "import_job", AuditEvent.object_id == str(teammates_import)
                )
            ).all()
            == []
        )
