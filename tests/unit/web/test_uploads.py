"""Private uploads (save_upload) and the guard in front of Reflex's /_upload endpoint."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session

from profile_ui.db import make_engine
from profile_ui.models import ImportJob
from profile_ui.services.permissions import BUILTIN_ROLES, SYSTEM_ACTOR, Actor, PermissionDenied
from profile_ui.services.uploads import UploadError, pending_uploads, request_body_limit, save_upload
from profile_ui.services.users import create_user, sign_in
from profile_ui.settings import get_settings
from profile_ui.web.upload_guard import UploadGuard


def _actor(role: str, user_id: int = 1) -> Actor:
    return Actor(
        user_id=user_id, email=f"{role}{user_id}@example.com", role=role, permissions=frozenset(BUILTIN_ROLES[role][1])
    )


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_saves_under_a_random_name_in_the_private_folder(db: Session, tmp_path: Path) -> None:
    path = save_upload(
        session=db,
        actor=_actor("marketer"),
        file_name="Leads May.csv",
        data_chunks=[b"email\n", b"a@example.com\n"],
        upload_dir=tmp_path / "up",
    )
    assert path.parent == tmp_path / "up" and path.suffix == ".csv"
    assert "Leads" not in path.name
    assert path.read_bytes() == b"email\na@example.com\n"
    other = save_upload(
        session=db, actor=_actor("marketer"), file_name="Leads May.csv", data_chunks=[b"x"], upload_dir=tmp_path / "up"
    )
    assert other != path


def test_a_viewer_cannot_upload(db: Session, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied, match="profiles.import"):
        save_upload(
            session=db, actor=_actor("viewer"), file_name="a.csv", data_chunks=[b"x"], upload_dir=tmp_path / "up"
        )
    assert list((tmp_path / "up").glob("*")) == []


def test_a_file_over_the_limit_is_refused_and_leaves_nothing(db: Session, tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"^big\.xlsx: the file is 1,200 bytes; files up to 1,000 bytes can be"):
        save_upload(
            session=db,
            actor=_actor("marketer"),
            file_name="big.xlsx",
            data_chunks=[b"x" * 600, b"x" * 600],
            max_bytes=1000,
            upload_dir=tmp_path / "up",
        )
    assert list((tmp_path / "up").glob("*")) == []


def test_unreadable_types_and_client_folders(db: Session, tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"^run\.exe: this file type cannot be imported"):
        save_upload(
            session=db, actor=_actor("marketer"), file_name="run.exe", data_chunks=[b"x"], upload_dir=tmp_path / "up"
        )
    path = save_upload(
        session=db,
        actor=_actor("marketer"),
        file_name="../../etc/list.CSV",
        data_chunks=[b"x"],
        upload_dir=tmp_path / "up",
    )
    assert path.parent == tmp_path / "up" and path.suffix == ".csv"


def test_uploads_no_import_uses_are_limited_per_user(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "upload_max_pending", 3)
    marketer = _actor("marketer")

    def upload(actor: Actor = marketer, name: str = "leads.csv") -> Path:
        return save_upload(
            session=db, actor=actor, file_name=name, data_chunks=[b"email\n"], upload_dir=tmp_path / "up"
        )

    first, second, _third = upload(), upload(), upload()
    with pytest.raises(
        UploadError,
        match=r"^leads\.csv: you have 3 uploaded files that are not imported "
        r"yet \(the limit is 3\); import them or remove them",
    ):
        upload()
    assert len(list((tmp_path / "up").glob("*"))) == 3  # the refused one left nothing
    upload(_actor("marketer", user_id=2))  # another user has a quota of their own

    # a file an import uses no longer counts; one the user removed from the list neither
    db.add(ImportJob(batch_id="b", file_name="leads.csv", stored_path=str(first), status="queued"))
    db.commit()
    upload()
    second.unlink()
    fourth = upload()
    # an upload left unused for a day was abandoned: it is deleted and frees its place
    old = time.time() - (get_settings().upload_abandoned_hours + 1) * 3600
    os.utime(fourth, (old, old))
    upload()
    assert not fourth.exists() and first.exists()
    assert len(pending_uploads(session=db, actor=marketer, upload_dir=tmp_path / "up")) == 3


# ------------------------------------------------------------------ the /_upload guard
class _Downstream:
    """Stands in for Reflex: reads the whole body, answers 200."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(
    path: str, *, method: str = "POST", headers: dict[str, str] | None = None, body_parts: list[bytes] | None = None
) -> tuple[int, _Downstream]:
    downstream = _Downstream()
    guard = UploadGuard(downstream, session_cookie="sid")
    parts = list(body_parts or [b""])
    sent: list[dict] = []

    async def receive() -> dict:
        if parts:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    # in a thread of its own: a Playwright session in this process may own this thread's loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, guard(scope, receive, send)).result()
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), downstream


@pytest.fixture
def tokens(app_env, sqlite_url: str) -> dict[str, str]:
    app_env(sqlite_url, UPLOAD_MAX_BYTES="1000")
    engine = make_engine(sqlite_url)
    result = {}
    with Session(engine) as session:
        for role in ("viewer", "marketer"):
            create_user(
                session=session, actor=SYSTEM_ACTOR, email=f"{role}@example.com", password="password-123", role=role
            )
            session.commit()
            result[role], _ = sign_in(session=session, email=f"{role}@example.com", password="password-123")
    engine.dispose()
    return result


def test_guard_leaves_other_paths_alone(tokens: dict[str, str]) -> None:
    status, downstream = _call("/_event/", method="GET")
    assert (status, downstream.called) == (200, True)


def test_guard_never_serves_the_reflex_upload_folder(tokens: dict[str, str]) -> None:
    status, downstream = _call("/_upload/secret.csv", method="GET")
    assert (status, downstream.called) == (404, False)


def test_guard_refuses_declared_oversize_before_reading(tokens: dict[str, str]) -> None:
    limit = (1000 + 64 * 1024) * 10  # ten files at the limit, with their multipart framing
    status, downstream = _call(
        "/_upload", headers={"content-length": str(limit + 1), "cookie": f"sid={tokens['marketer']}"}
    )
    assert (status, downstream.called) == (413, False)


def test_guard_requires_a_session_allowed_to_import(tokens: dict[str, str]) -> None:
    assert _call("/_upload")[0] == 401
    assert _call("/_upload", headers={"cookie": "sid=not-a-token"})[0] == 401
    assert _call("/_upload", headers={"cookie": f"sid={tokens['viewer']}"})[0] == 403
    status, downstream = _call("/_upload", headers={"cookie": f"sid={tokens['marketer']}"}, body_parts=[b"a" * 100])
    assert (status, downstream.called) == (200, True)


def test_guard_cuts_off_an_undeclared_body_past_the_limit(tokens: dict[str, str]) -> None:
    status, downstream = _call(
        "/_upload", headers={"cookie": f"sid={tokens['marketer']}"}, body_parts=[b"a" * 400_000] * 3
    )
    assert (status, downstream.called) == (413, True)


def test_an_uploaded_file_part_stays_in_memory_while_the_request_is_parsed(app_env, sqlite_url: str) -> None:
    """starlette spills a part over 1 MB to a plain temporary file; the app keeps parts up
    to the upload limit in memory (web/upload_parts.py)."""
    import asyncio

    from starlette.formparsers import MultiPartParser
    from starlette.requests import Request

    from profile_ui.web.upload_parts import keep_upload_parts_in_memory

    app_env(sqlite_url)
    keep_upload_parts_in_memory()
    assert MultiPartParser.spool_max_size >= request_body_limit()
    boundary = "x-boundary"
    payload = b"Email\n" + b"an.secret@example.com\n" * 150_000  # ~3.3 MB, under the 10 MB limit
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def parse() -> bool:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        request = Request(
            {
                "type": "http",
                "method": "POST",
                "path": "/_upload",
                "query_string": b"",
                "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
            },
            receive,
        )
        form = await request.form()
        part = form["files"]
        rolled = part.file._rolled
        assert part.file.read() == payload
        await form.close()
        return rolled

    assert asyncio.run(parse()) is False  # never written to a temporary file on disk
