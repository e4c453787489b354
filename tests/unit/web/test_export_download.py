"""The export download route (GET /exports/<id>/download) in front of the app: the file
for its signed-in owner or an admin; refusals with the status a client can act on."""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session

from profile_ui.db import make_engine
from profile_ui.models import AuditEvent, ExportJob, utcnow
from profile_ui.services import file_store
from profile_ui.services.exporting import export_profiles
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.users import actor_for_email, create_user, sign_in
from profile_ui.web.export_download import ExportDownloads


class _Downstream:
    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})


def _get(path: str, token: str | None = None, method: str = "GET") -> tuple[int, dict, bytes, bool]:
    downstream = _Downstream()
    app = ExportDownloads(downstream, session_cookie="sid")
    sent: list[dict] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.sleep(3600)  # a client that stays connected (the response ends it)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"cookie", f"sid={token}".encode())] if token else []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": headers,
        "query_string": b"",
        "http_version": "1.1",
    }
    # in a thread of its own: a Playwright session in this process may own this thread's loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, downstream.called


@pytest.fixture(params=["plain", "encrypted"])
def world(app_env, sqlite_url: str, fast_password_hashing, request) -> dict:
    # encrypted: the file is stored encrypted at rest and the route streams it decrypted
    app_env(
        sqlite_url,
        **({"ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode()} if request.param == "encrypted" else {}),
    )
    engine = make_engine(sqlite_url)
    tokens = {}
    with Session(engine, expire_on_commit=False) as session:
        for name, role in (("owner", "marketer"), ("other", "marketer"), ("admin", "admin"), ("viewer", "viewer")):
            create_user(
                session=session, actor=SYSTEM_ACTOR, email=f"{name}@example.com", password="password-123", role=role
            )
            session.commit()
            tokens[name], _ = sign_in(session=session, email=f"{name}@example.com", password="password-123")
        owner = actor_for_email(session=session, email="owner@example.com")
        result = export_profiles(session=session, actor=owner, flt=ProfileFilter(), fmt="csv")
        session.commit()
    yield {"engine": engine, "tokens": tokens, "id": result.export_id, "path": result.path}
    engine.dispose()


def test_the_owner_gets_the_file_as_an_attachment(world: dict) -> None:
    status, headers, body, passed_on = _get(f"/exports/{world['id']}/download", world["tokens"]["owner"])
    assert (status, passed_on) == (200, False)
    assert headers["content-type"].startswith("text/csv")
    assert f'filename="{world["path"].name}"' in headers["content-disposition"]
    assert body == file_store.read_bytes(world["path"]) and body.startswith(b"\xef\xbb\xbf")
    assert b"Profile ID" in body  # the header row, in plain text
    stored = world["path"].read_bytes()
    assert (stored == body) != stored.startswith(file_store.MAGIC)
    with Session(world["engine"]) as session:
        events = session.query(AuditEvent).filter(AuditEvent.action == "export.download").all()
    assert [e.actor_email for e in events] == ["owner@example.com"]


def test_an_admin_may_download_anyones_export(world: dict) -> None:
    assert _get(f"/exports/{world['id']}/download", world["tokens"]["admin"])[0] == 200


def test_others_are_refused_with_a_reason(world: dict) -> None:
    url = f"/exports/{world['id']}/download"
    status, _, body, passed_on = _get(url)
    assert (status, passed_on) == (401, False) and b"Sign in" in body
    assert _get(url, "not-a-token")[0] == 401
    assert _get(url, world["tokens"]["viewer"])[0] == 403  # no export permission at all
    # someone else's export and one that does not exist get the same answer: ids cannot be probed
    status, _, theirs, _ = _get(url, world["tokens"]["other"])
    assert status == 404 and b"does not exist, or it is not yours" in theirs
    missing_id = world["id"] + 1000
    status, _, missing, _ = _get(f"/exports/{missing_id}/download", world["tokens"]["other"])
    assert status == 404 and missing.replace(str(missing_id).encode(), str(world["id"]).encode()) == theirs
    assert _get(url, world["tokens"]["owner"], method="POST")[0] == 405


def test_an_expired_link_says_so(world: dict) -> None:
    with Session(world["engine"]) as session:
        job = session.get(ExportJob, world["id"])
        job.expires_at = utcnow() - timedelta(minutes=1)
        session.add(job)
        session.commit()
    status, _, body, _ = _get(f"/exports/{world['id']}/download", world["tokens"]["owner"])
    assert status == 410 and b"expired" in body


def test_a_queued_export_is_not_ready(world: dict) -> None:
    with Session(world["engine"]) as session:
        job = session.get(ExportJob, world["id"])
        job.status = "queued"
        session.add(job)
        session.commit()
    status, _, body, _ = _get(f"/exports/{world['id']}/download", world["tokens"]["owner"])
    assert status == 409 and b"not ready" in body


def test_other_paths_reach_the_app(world: dict) -> None:
    for path in ("/exports", "/exports/1", "/exports/x/download", "/_event/", "/profiles"):
        status, _, body, passed_on = _get(path)
        assert (status, body, passed_on) == (200, b"page", True), path
