"""`UploadGuard`: ASGI middleware in front of Reflex's /_upload endpoint.

Installed through rx.App's api_transformer. It answers GET with 404 (Reflex would serve its
public upload folder; we keep nothing there), refuses bodies over the limit (MAX_FILES_PER_UPLOAD files at
the file limit) with 413 before
reading them (and cuts off a body that grows past it), and refuses a POST without a
signed-in user allowed to import (401/403). The file itself is saved by
services/uploads.py's `save_upload`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..services.importing import limits
from ..services.permissions import PROFILES_IMPORT, NotSignedIn
from ..services.uploads import MAX_FILES_PER_UPLOAD, UPLOAD_PATH, request_body_limit
from ..settings import get_settings
from .request_guard import PathGuard, actor_for_session_cookie, content_length


async def _respond(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class UploadGuard(PathGuard):
    """ASGI middleware in front of Reflex's /_upload endpoint (see the module docstring)."""

    def match(self, path: str) -> bool:
        return path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/")

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, matched: Any) -> None:
        if scope.get("method") != "POST":
            # Reflex would serve its public upload folder here; we keep nothing there
            await _respond(send, 404, "Not found")
            return
        limit = request_body_limit()
        too_large = (
            f"the upload is larger than {MAX_FILES_PER_UPLOAD} files of "
            f"{limits.size_text(get_settings().upload_max_bytes)} each"
        )
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await _respond(send, 413, too_large)
            return
        try:
            actor = await asyncio.to_thread(actor_for_session_cookie, self.session_token(scope))
        except NotSignedIn:
            await _respond(send, 401, "Please sign in to upload files")
            return
        if not actor.can(PROFILES_IMPORT):
            await _respond(send, 403, f"{actor.email} is not allowed to import files")
            return
        await self._forward_limited(scope, receive, send, limit, too_large)

    async def _forward_limited(self, scope: dict[str, Any], receive: Any, send: Any, limit: int, message: str) -> None:
        """Pass the request on, cutting it off with 413 when a body without (or with a
        false) Content-Length grows past the limit."""
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return event

        async def guarded_send(event: dict[str, Any]) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the cut-off request is replaced by ours
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        await self.app(scope, counted_receive, guarded_send)
        if exceeded and not started:
            await _respond(send, 413, message)
