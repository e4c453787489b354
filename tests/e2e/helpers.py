"""Direct database access to the running app's database, for arranging and checking."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.db import make_engine
from profile_ui.models import Notification, User
from profile_ui.services.notify import notify_user

# small, so the over-the-limit upload test sends little
UPLOAD_MAX_BYTES = 200_000
PASSWORD = "e2e-password-1"
USERS = {role: f"{role}@e2e.example.com" for role in ("admin", "marketer", "viewer")}


@dataclass(frozen=True)
class RunningApp:
    url: str
    data_dir: Path
    database_url: str
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def app_db(app: RunningApp) -> Iterator[Session]:
    engine = make_engine(app.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def user_id(app: RunningApp, email: str) -> int:
    with app_db(app) as session:
        return session.exec(select(User.id).where(User.email == email)).one()


def add_notification(app: RunningApp, email: str, title: str, link: str | None = None) -> int:
    uid = user_id(app, email)
    with app_db(app) as session:
        notify_user(session=session, user_id=uid, title=title, link=link)
        session.flush()
        return session.exec(select(sa.func.max(Notification.id))).one()


def unread_titles(app: RunningApp, email: str) -> list[str]:
    uid = user_id(app, email)
    with app_db(app) as session:
        return list(session.exec(select(Notification.title).where(
            Notification.user_id == uid, Notification.read_at.is_(None))).all())
