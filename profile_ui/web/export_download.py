"""The download link of an export, `GET /exports/<id>/download`, served by the backend.

`ExportDownloads` is ASGI middleware installed through rx.App's api_transformer (beside
UploadGuard), so it sits in front of both Reflex's API and, in prod, the frontend's
static pages on the same port: a link opened in the browser (a click on /exports, the
bell, an e-mail) reaches this handler, never the page router. Only that exact path is
taken; everything else passes through.

The browser's session cookie says who asks (as UploadGuard authenticates /_upload);
`exporting.download_export` decides: the file for its owner (or an admin) while the link
lives, audited. Otherwise a short page says why, with the status a client can act on:
401 not signed in, 403 no export permission, 404 no such export or someone else's (the
same answer, so export ids cannot be probed), 409 not ready or failed, 410 the link
expired (or its file is gone).
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse, StreamingResponse

from ..db import session_scope
from ..services import file_store
from ..services.exporting import ExportError, ExportExpired, ExportNotFound, download_export
from ..services.permissions import NotSignedIn, PermissionDenied
from .request_guard import PathGuard, actor_for_session_cookie

DOWNLOAD_PATH = re.compile(r"^/exports/(\d{1,18})/download/?$")
MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
}


class DownloadRefused(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def export_file_for(token: str | None, export_id: int) -> Path:
    """The file of export `export_id` for the user behind session `token` (audited), or
    DownloadRefused with the status and a message for a person."""
    try:
        actor = actor_for_session_cookie(token)
    except NotSignedIn:
        raise DownloadRefused(
            401, "Please sign in", "Sign in to Profile UI, then open this download link again."
        ) from None
    try:
        with session_scope() as session:
            return download_export(session=session, actor=actor, export_id=export_id)
    except ExportNotFound as exc:
        raise DownloadRefused(404, "Export not found", str(exc)) from None
    except ExportExpired as exc:
        raise DownloadRefused(410, "This download link has expired", str(exc)) from None
    except ExportError as exc:
        raise DownloadRefused(409, "This export cannot be downloaded", str(exc)) from None
    except PermissionDenied as exc:
        raise DownloadRefused(403, "Not allowed", str(exc)) from None


def _page(refused: DownloadRefused) -> HTMLResponse:
    title, message = html.escape(refused.title), html.escape(refused.message)
    link = '<a href="/login">Sign in</a>' if refused.status == 401 else '<a href="/exports">Your exports</a>'
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title} · Profile UI</title></head><body style="font-family:sans-serif;'
        f'max-width:40em;margin:4em auto"><h1>{title}</h1><p role="alert">{message}</p>'
        f"<p>{link}</p></body></html>"
    )
    return HTMLResponse(body, status_code=refused.status, headers={"cache-control": "no-store"})


class ExportDownloads(PathGuard):
    """ASGI middleware serving `/exports/<id>/download` (see the module docstring)."""

    def match(self, path: str) -> re.Match[str] | None:
        return DOWNLOAD_PATH.match(path)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, matched: re.Match[str]) -> None:
        if scope.get("method") != "GET":  # every download is audited: only a real one
            await _page(DownloadRefused(405, "Not allowed", "Open the link to download."))(scope, receive, send)
            return
        try:
            file = await asyncio.to_thread(export_file_for, self.session_token(scope), int(matched.group(1)))
        except DownloadRefused as refused:
            await _page(refused)(scope, receive, send)
            return
        # the stored file may be encrypted (services/file_store.py): the plain bytes are
        # streamed, decrypted segment by segment in this process
        response = StreamingResponse(
            file_store.iter_plain(file),
            media_type=MEDIA_TYPES.get(file.suffix, "application/octet-stream"),
            headers={
                "cache-control": "private, no-store",
                "content-disposition": f'attachment; filename="{file.name}"',
            },
        )
        await response(scope, receive, send)
