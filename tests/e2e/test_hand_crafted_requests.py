"""Requests a browser would never send: events over the websocket by hand (Reflex's
/_event socket.io protocol) and raw POSTs to /_upload. The server must refuse them on
its own checks, whatever the page would have shown."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator

import httpx
import pytest
import socketio

from profile_ui.pages.import_new import ImportUploadState
from profile_ui.services.uploads import MAX_FILES_PER_UPLOAD, MULTIPART_OVERHEAD_BYTES
from profile_ui.services.users import sign_in
from profile_ui.state.base import SESSION_COOKIE, AppState

from .helpers import (
    PASSWORD,
    UPLOAD_MAX_BYTES,
    USERS,
    RunningApp,
    add_notification,
    app_db,
    unread_titles,
)

pytestmark = pytest.mark.e2e

# Reflex serves socket.io at /_event and uses the same string as its namespace
NAMESPACE = "/_event"
ROUTER_DATA = {"pathname": "/profiles", "asPath": "/profiles"}


def _session_token(app: RunningApp, role: str) -> str:
    """A real session, made by the same service the login form uses."""
    with app_db(app) as session:
        token, _actor = sign_in(session=session, email=USERS[role], password=PASSWORD)
    return token


class HandSocket:
    """A socket.io client speaking Reflex's event protocol, as a script would."""

    def __init__(self, app: RunningApp) -> None:
        self.url = app.url
        self.client_token = str(uuid.uuid4())
        self.updates: queue.Queue[dict] = queue.Queue()
        self.sio = self._connect({})

    def _connect(self, headers: dict[str, str]) -> socketio.Client:
        sio = socketio.Client(reconnection=False)
        sio.on("event", self.updates.put, namespace=NAMESPACE)
        sio.connect(
            f"{self.url}?token={self.client_token}",
            headers=headers,
            socketio_path=NAMESPACE,
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=15,
        )
        return sio

    def send(self, handler: str, payload: dict | None = None) -> list[dict]:
        """Emit one event and collect the updates it causes."""
        self.sio.emit(
            "event", {"name": handler, "payload": payload or {}, "router_data": ROUTER_DATA}, namespace=NAMESPACE
        )
        received = [self.updates.get(timeout=15)]
        while True:  # the rest of this event's updates follow quickly
            try:
                received.append(self.updates.get(timeout=1.5))
            except queue.Empty:
                return received

    def drain(self, wait_s: float = 2.0) -> list[dict]:
        received = []
        while True:
            try:
                received.append(self.updates.get(timeout=wait_s))
            except queue.Empty:
                return received

    def hydrate(self, session_token: str | None) -> list[dict]:
        """Hydrate the tab, its socket carrying `session_token` as the session cookie (the
        server reads it from the socket's Cookie header, as it does a browser's)."""
        if session_token:  # the cookie goes with the connection: connect again with it
            self.sio.disconnect()
            self.sio = self._connect({"cookie": f"{SESSION_COOKIE}={session_token}"})
        return self.send(f"{AppState.get_full_name().split('.')[0]}.hydrate_and_load", {"vars": {}})

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def hand_socket(running_app: RunningApp) -> Iterator[HandSocket]:
    sock = HandSocket(running_app)
    yield sock
    sock.close()


def _events(updates: list[dict]) -> str:
    return json.dumps([u.get("events") for u in updates])


def test_viewer_cannot_mark_someone_elses_notification_read(running_app: RunningApp, hand_socket: HandSocket) -> None:
    notification_id = add_notification(running_app, USERS["admin"], "Export ready: all.csv")
    hand_socket.hydrate(_session_token(running_app, "viewer"))

    updates = hand_socket.send(f"{AppState.get_full_name()}.mark_read", {"notification_id": notification_id})
    assert updates, "the server answered the event"
    updates += hand_socket.send(f"{AppState.get_full_name()}.mark_all_read")
    assert "Export ready: all.csv" in unread_titles(running_app, USERS["admin"])


def test_events_without_a_session_are_sent_to_sign_in(running_app: RunningApp, hand_socket: HandSocket) -> None:
    add_notification(running_app, USERS["viewer"], "Segment refreshed")
    hand_socket.hydrate(None)
    updates = hand_socket.send(f"{AppState.get_full_name()}.mark_all_read")
    assert "/login" in _events(updates)
    assert "Segment refreshed" in unread_titles(running_app, USERS["viewer"])


def test_revoked_token_is_refused(running_app: RunningApp, hand_socket: HandSocket) -> None:
    from profile_ui.services.users import sign_out

    token = _session_token(running_app, "admin")
    with app_db(running_app) as session:
        sign_out(session=session, token=token)
    add_notification(running_app, USERS["admin"], "Import failed: bad.csv")
    hand_socket.hydrate(token)
    updates = hand_socket.send(f"{AppState.get_full_name()}.mark_all_read")
    assert "/login" in _events(updates)
    assert "Import failed: bad.csv" in unread_titles(running_app, USERS["admin"])


def _uploaded_files(app: RunningApp) -> set[str]:
    folder = app.data_dir / "uploads"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_viewer_tab_cannot_save_an_upload(running_app: RunningApp, hand_socket: HandSocket) -> None:
    """The guard in front of /_upload lets the marketer's cookie through, but the event
    runs for the viewer's tab (its client token), and the handler checks that tab's actor."""
    hand_socket.hydrate(_session_token(running_app, "viewer"))
    before = _uploaded_files(running_app)
    response = httpx.post(
        f"{running_app.url}/_upload",
        headers={
            "reflex-client-token": hand_socket.client_token,
            "reflex-event-handler": f"{ImportUploadState.get_full_name()}.handle_upload",
            "cookie": f"{SESSION_COOKIE}={_session_token(running_app, 'marketer')}",
        },
        files={"files": ("sneaky.csv", b"email\nx@example.com\n", "text/csv")},
        timeout=30,
    )
    assert response.status_code == 200
    # the refusal (an error toast) reaches the tab over its socket or in the response
    answer = response.text + json.dumps(hand_socket.drain())
    assert "not allowed" in answer and "profiles.import" in answer
    assert _uploaded_files(running_app) == before


def test_upload_endpoint_guard(running_app: RunningApp) -> None:
    url = f"{running_app.url}/_upload"
    marketer = {"cookie": f"{SESSION_COOKIE}={_session_token(running_app, 'marketer')}"}
    viewer = {"cookie": f"{SESSION_COOKIE}={_session_token(running_app, 'viewer')}"}
    small = {"files": ("a.csv", b"email\n", "text/csv")}
    with httpx.Client(timeout=30) as client:
        # Reflex's public upload folder is never served
        assert client.get(f"{url}/anything.csv").status_code == 404
        # no session / no import permission: refused before the body is read
        assert client.post(url, files=small).status_code == 401
        assert client.post(url, files=small, headers=viewer).status_code == 403
        # one request carries at most MAX_FILES_PER_UPLOAD files at the limit: past that,
        # 413 from the declared length ...
        request_limit = (UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES) * MAX_FILES_PER_UPLOAD
        big = b"x" * (request_limit + 100_000)
        response = client.post(url, files={"files": ("big.csv", big, "text/csv")}, headers=marketer)
        assert response.status_code == 413
        assert "larger than" in response.json()["detail"]

        # ... and from the bytes actually sent when no length is declared (chunked)
        def chunks() -> Iterator[bytes]:
            yield (
                b'--xyz\r\nContent-Disposition: form-data; name="files"; '
                b'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
            )
            for _ in range(request_limit // 10_000 + 10):
                yield b"y" * 10_000
            yield b"\r\n--xyz--\r\n"

        response = client.post(
            url,
            content=chunks(),
            headers={
                **marketer,
                "content-type": "multipart/form-data; boundary=xyz",
                "reflex-client-token": str(uuid.uuid4()),
                "reflex-event-handler": f"{ImportUploadState.get_full_name()}.handle_upload",
            },
        )
        assert response.status_code == 413
    # (one file over the file limit in a request under it is refused when it is saved:
    # test_uploads.py, and the wizard names it: test_import_wizard_feedback.py)
    assert not any(p.name.endswith(".part") for p in (running_app.data_dir / "uploads").glob("*"))
