"""The server-set session cookie (issue 14): one-time sign-in codes (services/users.py)
and the POST /auth/session and /auth/sign-out endpoints (web/auth_session.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import Session

from profile_ui.db import make_engine
from profile_ui.models import utcnow
from profile_ui.services.permissions import SYSTEM_ACTOR, NotSignedIn
from profile_ui.services.users import (
    SIGN_IN_CODE_SECONDS,
    SignInError,
    actor_for_token,
    create_user,
    redeem_sign_in_code,
    sign_in,
    start_sign_in,
)
from profile_ui.web.auth_session import AuthEndpoints, local_path

PASSWORD = "correct horse battery"
APP = "http://127.0.0.1:3000"
pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def _user(session: Session, email: str = "ana@example.com") -> None:
    create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=PASSWORD, role="marketer")
    session.commit()


# ---------------------------------------------------------------- the code (service)
def test_a_code_is_redeemed_once_for_a_session(session: Session) -> None:
    _user(session)
    code, actor = start_sign_in(session=session, email="ana@example.com", password=PASSWORD)
    # a code is not a session token: it signs no one in by itself
    with pytest.raises(NotSignedIn):
        actor_for_token(session=session, token=code)
    token = redeem_sign_in_code(session=session, code=code)
    assert token and actor_for_token(session=session, token=token) == actor
    assert redeem_sign_in_code(session=session, code=code) is None  # used
    assert redeem_sign_in_code(session=session, code="made-up") is None
    assert redeem_sign_in_code(session=session, code="") is None
    # and a session token is not a code
    other, _ = sign_in(session=session, email="ana@example.com", password=PASSWORD)
    assert redeem_sign_in_code(session=session, code=other) is None


def test_a_code_expires(session: Session) -> None:
    _user(session)
    code, _ = start_sign_in(session=session, email="ana@example.com", password=PASSWORD)
    late = utcnow() + timedelta(seconds=SIGN_IN_CODE_SECONDS + 1)  # a fake clock
    assert redeem_sign_in_code(session=session, code=code, now=late) is None
    in_time = utcnow() + timedelta(seconds=SIGN_IN_CODE_SECONDS - 5)
    code, _ = start_sign_in(session=session, email="ana@example.com", password=PASSWORD)
    assert redeem_sign_in_code(session=session, code=code, now=in_time)


def test_start_sign_in_keeps_the_throttle(session: Session) -> None:
    _user(session)
    with pytest.raises(SignInError, match="Wrong e-mail or password"):
        start_sign_in(session=session, email="ana@example.com", password="wrong password")
    for _ in range(10):
        try:
            start_sign_in(session=session, email="ana@example.com", password="wrong password", client="10.0.0.9")
        except SignInError:
            session.rollback()
    with pytest.raises(SignInError, match="Too many failed sign-ins|locked"):
        start_sign_in(session=session, email="ana@example.com", password=PASSWORD, client="10.0.0.9")


# ---------------------------------------------------------------- the endpoints
def _post(path: str, form: dict[str, str], *, origin: str | None = APP, cookie: str = "", method: str = "POST"):
    passed_on: list[str] = []

    async def downstream(scope, receive, send) -> None:
        passed_on.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})

    app = AuthEndpoints(downstream, session_cookie="sid", https=False)
    body = urlencode(form).encode()
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return requests.pop() if requests else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1:3000"), (b"content-type", b"application/x-www-form-urlencoded")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", f"sid={cookie}".encode()))
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": headers, "scheme": "http"}
    # in a thread of its own: a Playwright session in this process may own this thread's loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    cookies = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    location = next((v.decode() for k, v in start["headers"] if k == b"location"), "")
    return start["status"], location, cookies, passed_on


@pytest.fixture
def engine_url(app_env, sqlite_url: str):
    app_env(sqlite_url, APP_URL=APP)
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        _user(session)
    yield engine
    engine.dispose()


def _code(engine) -> str:
    with Session(engine) as session:
        return start_sign_in(session=session, email="ana@example.com", password=PASSWORD)[0]


def test_the_code_becomes_an_httponly_strict_cookie(engine_url) -> None:
    code = _code(engine_url)
    status, location, cookies, passed_on = _post("/auth/session", {"code": code, "next": "/imports"})
    assert (status, location, passed_on) == (303, "/imports", [])
    [cookie] = cookies
    token = cookie.split(";")[0].removeprefix("sid=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes and "secure" not in attributes
    with Session(engine_url) as session:
        assert actor_for_token(session=session, token=token).email == "ana@example.com"
    # single use: the same code again signs no one in
    status, location, cookies, _ = _post("/auth/session", {"code": code, "next": "/imports"})
    assert (status, location, cookies) == (303, "/login", [])


def test_cross_site_and_odd_requests_are_refused(engine_url) -> None:
    code = _code(engine_url)
    assert _post("/auth/session", {"code": code}, origin="https://evil.example.com")[0] == 403
    assert _post("/auth/session", {"code": code}, origin=None)[0] == 403
    assert _post("/auth/session", {"code": code}, method="GET")[0] == 405
    assert _post("/auth/sign-out", {}, origin="https://evil.example.com")[0] == 403
    assert _post("/auth/session", {"code": "x" * 5000})[0] == 413
    # the code was never redeemed by the refused requests
    status, location, cookies, _ = _post("/auth/session", {"code": code, "next": "//evil.example.com/x"})
    assert status == 303 and location == "/" and cookies  # only paths inside the app
    # other paths pass through
    assert _post("/profiles", {})[3] == ["/profiles"]


def test_sign_out_revokes_and_clears_the_cookie(engine_url) -> None:
    _, _, cookies, _ = _post("/auth/session", {"code": _code(engine_url), "next": "/profiles"})
    token = cookies[0].split(";")[0].removeprefix("sid=")
    status, location, cookies, _ = _post("/auth/sign-out", {}, cookie=token)
    assert (status, location) == (303, "/login")
    assert cookies[0].startswith('sid="";') or cookies[0].startswith("sid=;")
    assert "max-age=0" in cookies[0].lower() and "httponly" in cookies[0].lower()
    with Session(engine_url) as session, pytest.raises(NotSignedIn):
        actor_for_token(session=session, token=token)


@pytest.mark.parametrize(
    "value, path",
    [("/imports", "/imports"), ("//evil.example.com", "/"), ("https://evil.example.com/", "/"), ("/\\evil", "/")],
)
def test_next_stays_inside_the_app(value: str, path: str) -> None:
    assert local_path(value) == path
