"""A viewer can neither open the import wizard nor start an import by sending its events
over the websocket by hand."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from profile_ui.pages.import_new import ImportUploadState
from profile_ui.pages.imports import ImportDetailState, ImportsState

from .helpers import RunningApp
from .import_files import import_job_count
from .test_hand_crafted_requests import HandSocket, _session_token

pytestmark = pytest.mark.e2e


def test_viewer_cannot_open_the_wizard(page: Page, base_url: str, sign_in) -> None:
    sign_in("viewer")
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_text("You don't have access to New import.")).to_be_visible()
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    page.goto(f"{base_url}/imports")
    expect(page.get_by_text("You don't have access to Imports.")).to_be_visible()


def test_viewer_events_start_no_import(running_app: RunningApp) -> None:
    socket = HandSocket(running_app)
    try:
        socket.hydrate(_session_token(running_app, "viewer"))
        uploads = running_app.data_dir / "uploads"
        files_before = set(uploads.iterdir()) if uploads.exists() else set()
        jobs_before = import_job_count(running_app)
        wizard = ImportUploadState.get_full_name()
        updates = socket.send(f"{wizard}.set_paste_text", {"text": "Email\tName\na@x.example.com\tA\n"})
        for handler in ("use_pasted_rows", "start_preview", "confirm", "source_next"):
            updates += socket.send(f"{wizard}.{handler}")
        updates += socket.send(f"{ImportsState.get_full_name()}.cancel", {"job_id": 1})
        updates += socket.send(f"{ImportDetailState.get_full_name()}.undo")
        answer = json.dumps([u.get("events") for u in updates])
        assert answer.count("not allowed") >= 5
        assert import_job_count(running_app) == jobs_before
        assert (set(uploads.iterdir()) if uploads.exists() else set()) == files_before
    finally:
        socket.close()
