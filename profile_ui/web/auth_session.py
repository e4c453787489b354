"""The session cookie, set and cleared by the server: `POST /auth/session` and
`POST /auth/sign-out`.

The session cookie is HttpOnly (page scripts cannot read it, so a script injected into a
page cannot carry the session away), SameSite=Strict, Path=/, and Secure when APP_URL is
https. Only an HTTP answer can set such a cookie, so signing in takes two steps:

1. the sign-in form's event checks the password (services/users.start_sign_in, with the
   throttling and lockout of every sign-in) and has the page post a one-time code, good
   for 60 s, here;
2. `POST /auth/session` (form fields `code`, `next`) redeems the code for a new session
   token (services/users.redeem_sign_in_code: once, whichever worker) and answers 303 to
   `next` with `Set-Cookie`. An unknown, used or expired code goes back to /login.

`POST /auth/sign-out` revokes the session of the cookie it comes with and answers 303 to
/login with the cookie cleared (Max-Age=0).

Both are full page navigations on purpose: Reflex's event handlers learn who is signed in
from the Cookie header of the page's websocket (state/base.py), which the browser sends
when the socket connects, so the next page's socket carries the new cookie (or none).

Cross-site requests are refused (403) before anything is read or changed: the request's
Origin (or, without one, its Referer) must be the app's own, i.e. one of
settings.allowed_origins (APP_URL's and CORS_ORIGINS) or the origin the request was sent
to. SameSite=Strict keeps the cookie off cross-site requests as well.

`AuthEndpoints` is ASGI middleware installed through rx.App's api_transformer, like
ExportDownloads, so in prod (pages and backend on one port) the pages post to it on
their own origin.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..db import session_scope
from ..services.users import redeem_sign_in_code, sign_out
from ..settings import get_settings
from .request_guard import PathGuard, header_value

SESSION_PATH = "/auth/session"
SIGN_OUT_PATH = "/auth/sign-out"
LOGIN_PATH = "/login"
MAX_FORM_BYTES = 4096  # a code and a path; anything bigger is not from the app's page


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def same_origin(scope: dict[str, Any], allowed: list[str]) -> bool:
    """Whether the request was sent by a page of this app: its Origin (or Referer) is
    one of `allowed` or the origin it was sent to (scheme of the request, its Host)."""
    origin = header_value(scope, b"origin") or ""
    if not origin or origin == "null":
        origin = _origin_of(header_value(scope, b"referer") or "")
    if not origin:
        return False
    origin = origin.lower()
    host = (header_value(scope, b"host") or "").lower()
    own = f"{scope.get('scheme', 'http')}://{host}" if host else ""
    return origin == own or origin in {o.lower() for o in allowed}


def local_path(value: str) -> str:
    """`value` when it is a path inside the app (never another site: no scheme, no
    host, no `//`), else /."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or urlsplit(value).netloc:
        return "/"
    return value


async def _read_form(receive: Any) -> dict[str, str] | None:
    """The urlencoded form body, or None when it is larger than MAX_FORM_BYTES."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body"):
            break
    fields = parse_qs(body.decode("latin-1"), max_num_fields=8)
    return {name: values[0] for name, values in fields.items() if values}


def _refused(status: int, message: str) -> HTMLResponse:
    text = html.escape(message)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed · Profile UI</title>'
        '</head><body style="font-family:sans-serif;max-width:40em;margin:4em auto">'
        f'<h1>Not allowed</h1><p role="alert">{text}</p><p><a href="/login">Sign in</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def _redeem(code: str) -> str | None:
    with session_scope() as session:
        return redeem_sign_in_code(session=session, code=code)


def _revoke(token: str | None) -> None:
    with session_scope() as session:
        sign_out(session=session, token=token)


class AuthEndpoints(PathGuard):
    """ASGI middleware serving POST /auth/session and POST /auth/sign-out (see the module
    docstring); every other request passes through."""

    def __init__(self, app: Any, *, session_cookie: str, https: bool | None = None) -> None:
        super().__init__(app, session_cookie=session_cookie)
        settings = get_settings()
        self.https = settings.app_url.startswith("https://") if https is None else https
        self.allowed_origins = settings.allowed_origins
        self.session_seconds = settings.session_hours * 3600

    def match(self, path: str) -> str | None:
        path = path.rstrip("/") or "/"
        return path if path in (SESSION_PATH, SIGN_OUT_PATH) else None

    def _set_cookie(self, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(
            self.session_cookie,
            token,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.https,
        )

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, matched: str) -> None:
        response = await self._answer(scope, receive, matched)
        response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)

    async def _answer(self, scope: dict[str, Any], receive: Any, path: str) -> Response:
        if scope.get("method") != "POST":
            return _refused(405, "Sign in and out with the app's own buttons.")
        if not same_origin(scope, self.allowed_origins):
            return _refused(403, "This request did not come from Profile UI's own pages.")
        form = await _read_form(receive)
        if form is None:
            return _refused(413, "This request is too large.")
        if path == SIGN_OUT_PATH:
            await asyncio.to_thread(_revoke, self.session_token(scope))
            response = RedirectResponse(LOGIN_PATH, status_code=303)
            self._set_cookie(response, "", max_age=0)
            return response
        token = await asyncio.to_thread(_redeem, form.get("code", ""))
        if token is None:  # used, expired or made up: sign in again
            return RedirectResponse(LOGIN_PATH, status_code=303)
        response = RedirectResponse(local_path(form.get("next", "/")), status_code=303)
        self._set_cookie(response, token, max_age=self.session_seconds)
        return response
