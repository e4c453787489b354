"""What the app's ASGI middleware share (UploadGuard in upload_guard.py in front of /_upload,
ExportDownloads in export_download.py serving /exports/<id>/download, AuthEndpoints in
auth_session.py setting and clearing the session cookie): the request's path
inside the app, its headers and session cookie, the actor behind that cookie, and taking
only their own paths while every other request passes through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ..db import session_scope
from ..services.permissions import Actor
from ..services.users import actor_for_token


def request_path(scope: dict[str, Any]) -> str:
    """The request's path inside the app (without the ASGI root_path)."""
    path = scope.get("path", "")
    root = scope.get("root_path") or ""
    return path[len(root) :] if root and path.startswith(root) else path


def _headers(scope: dict[str, Any], name: bytes) -> Iterator[bytes]:
    for key, value in scope.get("headers") or ():
        if key == name:
            yield value


def header_value(scope: dict[str, Any], name: bytes) -> str | None:
    """The request's first `name` header (lower-case bytes), decoded; None if absent."""
    for value in _headers(scope, name):
        return value.decode("latin-1")
    return None


def cookie_value(scope: dict[str, Any], name: str) -> str | None:
    for value in _headers(scope, b"cookie"):
        try:
            jar = SimpleCookie(value.decode("latin-1"))
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return None


def content_length(scope: dict[str, Any]) -> int | None:
    for value in _headers(scope, b"content-length"):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def actor_for_session_cookie(token: str | None) -> Actor:
    """The signed-in user behind a session cookie's token (NotSignedIn if none); blocking."""
    with session_scope() as session:
        return actor_for_token(session=session, token=token)


class PathGuard:
    """ASGI middleware taking the HTTP requests whose path `match` accepts (its result,
    when truthy, goes to `handle`); every other request goes to `app` as it came."""

    def __init__(self, app: Any, *, session_cookie: str) -> None:
        self.app = app
        self.session_cookie = session_cookie

    def match(self, path: str) -> Any:
        raise NotImplementedError

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, matched: Any) -> None:
        raise NotImplementedError

    def session_token(self, scope: dict[str, Any]) -> str | None:
        return cookie_value(scope, self.session_cookie)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        matched = self.match(request_path(scope)) if scope["type"] == "http" else None
        if not matched:
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send, matched)
