"""The wizard's word on files that never reached it: refused in the browser before sending
(over the size limit, a type it cannot read, too many at once) or answered by the upload
endpoint with 413/401/403 (or cut off). Each message names the file, its size and, for a
size, the limit; they are shown at once, beside the ones of files read on the server.

Mixed into the wizard's state before AppState; upload_zone.py renders what sends here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx

from ...services.importing import limits
from ...services.uploads import MAX_FILES_PER_UPLOAD, type_refused
from ...settings import get_settings
from ...state.base import guarded

UPLOAD_ID = "import_upload"
# react-dropzone's codes for a refused file
TOO_LARGE, WRONG_TYPE, TOO_MANY = "file-too-large", "file-invalid-type", "too-many-files"


def chosen_file_messages(refused: list[dict[str, Any]], limit: int) -> list[str]:
    """One message per file the browser refused: {"name", "size", "codes"} each."""
    messages = []
    for item in refused:
        name, size, codes = str(item.get("name") or "file"), int(item.get("size") or 0), item.get("codes") or []
        if TOO_LARGE in codes:
            messages.append(f"{name}: {limits.too_large(size, limit)}")
        elif WRONG_TYPE in codes:
            messages.append(type_refused(name))
        elif TOO_MANY in codes:
            messages.append(
                f"{name}: at most {MAX_FILES_PER_UPLOAD} files can be uploaded at once; upload the rest next"
            )
    return messages


def answer_messages(answer: dict[str, Any], limit: int) -> list[str]:
    """One message per file of an upload the server answered with an error (or cut off)."""
    status = int(answer.get("status") or 0)
    detail = str(answer.get("detail") or "").rstrip(".")
    if 200 <= status < 300:
        return []
    messages = []
    for item in answer.get("files") or []:
        name, size = str(item.get("name") or "file"), int(item.get("size") or 0)
        if status == 413 and size > limit:
            reason = limits.too_large(size, limit)
        elif status == 401:
            reason = f"not uploaded: your sign-in has ended ({detail or 'sign in again'}); sign in and upload it again"
        elif status == 403:
            reason = f"not uploaded: {detail or 'you are not allowed to import files'}"
        elif status == 0:
            reason = (
                f"not uploaded ({limits.size_text(size)}): the connection to the server was lost; "
                "check the connection and upload it again"
            )
        else:
            reason = f"not uploaded ({limits.size_text(size)}): the server answered {status}" + (
                f": {detail}" if detail else ""
            )
        messages.append(f"{name}: {reason}")
    return messages


class UploadFeedbackMixin(rx.State, mixin=True):
    # what the browser refused (kept until the next choice of files or a new wizard)
    chosen_errors: list[str] = []

    if TYPE_CHECKING:  # AppState's, which the wizard state puts this beside

        def _actor(self) -> Any: ...

    @rx.event
    @guarded
    def refuse_chosen(self, refused: list[dict[str, Any]]) -> None:
        self._actor()
        self.chosen_errors = chosen_file_messages(refused, get_settings().upload_max_bytes)

    @rx.event
    @guarded
    def upload_answered(self, answer: dict[str, Any] | None) -> None:
        # no actor check: after a 401 there is none, and this only words what the browser
        # says it sent (names and sizes) for this tab's own eyes
        messages = answer_messages(answer or {}, get_settings().upload_max_bytes)
        if messages:
            self.chosen_errors = messages
