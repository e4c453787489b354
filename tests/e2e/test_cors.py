"""Cross-origin reads: a page on another origin (another port or subdomain of the same
site) must not read the backend's answers with the visitor's cookie, nor open /_event.
Only APP_URL's origin is allowed (settings.allowed_origins -> Reflex's cors_allowed_origins)."""

from __future__ import annotations

import uuid

import httpx
import pytest
import websocket

from profile_ui.services.users import sign_in

from .helpers import PASSWORD, USERS, RunningApp, app_db

pytestmark = pytest.mark.e2e

NAMESPACE = "/_event"


def _foreign_origins(app: RunningApp) -> list[str]:
    port = int(app.url.rsplit(":", 1)[1])
    return ["http://evil.example", f"http://127.0.0.1:{port + 1}", f"http://localhost.evil.example:{port}"]


def _marketer_cookie(app: RunningApp) -> dict[str, str]:
    from profile_ui.state.base import SESSION_COOKIE

    with app_db(app) as session:
        token, _actor = sign_in(session=session, email=USERS["marketer"], password=PASSWORD)
    return {SESSION_COOKIE: token}


def _permissive(response: httpx.Response, origin: str) -> bool:
    allowed = response.headers.get("access-control-allow-origin")
    return allowed in (origin, "*")


def test_a_foreign_origin_gets_no_permissive_cors_answer(running_app: RunningApp):
    cookies = _marketer_cookie(running_app)
    with httpx.Client(base_url=running_app.url, cookies=cookies, timeout=15) as client:
        for origin in _foreign_origins(running_app):
            headers = {"Origin": origin}
            preflight = {
                **headers,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            answers = {
                "GET /ping": client.get("/ping", headers=headers),
                "OPTIONS /_upload": client.options("/_upload", headers=preflight),
                "POST /_upload": client.post("/_upload", headers=headers, files={"files": ("a.csv", b"Email\n")}),
                "GET /_event": client.get(
                    f"{NAMESPACE}/", params={"EIO": "4", "transport": "polling"}, headers=headers
                ),
                "GET download": client.get("/exports/1/download", headers=headers),
                "OPTIONS download": client.options("/exports/1/download", headers=preflight),
            }
            permissive = {name: dict(r.headers) for name, r in answers.items() if _permissive(r, origin)}
            assert not permissive, f"{origin} may read: {permissive}"
            assert answers["GET /_event"].status_code >= 400  # socket.io refuses the handshake

        # the app's own origin is still allowed (the frontend talks to the backend)
        own = client.get("/ping", headers={"Origin": running_app.url})
        assert own.headers.get("access-control-allow-origin") == running_app.url


def _open_event_socket(app: RunningApp, origin: str) -> None:
    """A websocket handshake on /_event sent with the given Origin (as a browser sends it)."""
    url = app.url.replace("http://", "ws://") + f"{NAMESPACE}/?EIO=4&transport=websocket&token={uuid.uuid4()}"
    ws = websocket.create_connection(url, origin=origin, timeout=10)
    ws.close()


def test_a_foreign_origin_cannot_open_the_event_socket(running_app: RunningApp):
    for origin in _foreign_origins(running_app):
        with pytest.raises(websocket.WebSocketBadStatusException):
            _open_event_socket(running_app, origin)
    _open_event_socket(running_app, running_app.url)  # the app's own pages still connect
