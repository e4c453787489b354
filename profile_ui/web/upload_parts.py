"""Uploaded files stay in memory while Reflex parses the upload request.

Reflex's /_upload reads the multipart body with starlette, which keeps each file part in a
SpooledTemporaryFile of 1 MB and spills anything bigger to a plain temporary file in the
system's temp folder: a customer file, unencrypted, outside DATA_DIR, for as long as the
request lasts. `keep_upload_parts_in_memory` raises that threshold to the largest body
UploadGuard lets through (one file at UPLOAD_MAX_BYTES plus multipart framing), so a part
is never written there; services/uploads.py then writes it private and, when encryption
is configured, encrypted (services/file_store.py). The memory this holds is bounded by
the same limit per upload in flight.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser

from ..services.uploads import request_body_limit


def keep_upload_parts_in_memory() -> None:
    """Call once when the app is built (profile_ui.py)."""
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, request_body_limit())
