"""The notification bell: each user sees, counts and marks read only their own rows."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlmodel import select

from profile_ui.models import Notification
from profile_ui.services.notify import list_notifications, mark_read, notify_user, send_email
from profile_ui.services.permissions import SYSTEM_ACTOR, NotSignedIn
from profile_ui.services.users import actor_for_user, create_user
from profile_ui.settings import get_settings

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def two_users(session):
    users = [
        create_user(
            session=session, actor=SYSTEM_ACTOR, email=f"{name}@example.com", password="long enough", role="marketer"
        )
        for name in ("ana", "bao")
    ]
    session.commit()
    return [actor_for_user(session=session, user=u) for u in users]


def test_each_user_sees_only_their_notifications(session, two_users):
    ana, bao = two_users
    notify_user(session=session, user_id=ana.user_id, title="Import finished", link="/imports/1")
    notify_user(session=session, user_id=ana.user_id, title="Export ready")
    notify_user(session=session, user_id=bao.user_id, title="Bao's import failed")
    session.commit()
    rows, unread = list_notifications(session=session, actor=ana)
    assert [r.title for r in rows] == ["Export ready", "Import finished"]  # newest first
    assert unread == 2
    rows, unread = list_notifications(session=session, actor=bao)
    assert [r.title for r in rows] == ["Bao's import failed"] and unread == 1


def test_mark_one_read_only_touches_the_actors_own_row(session, two_users):
    ana, bao = two_users
    notify_user(session=session, user_id=ana.user_id, title="for Ana")
    notify_user(session=session, user_id=bao.user_id, title="for Bao")
    session.commit()
    bao_row = session.exec(select(Notification).where(Notification.user_id == bao.user_id)).one()
    mark_read(session=session, actor=ana, notification_id=bao_row.id)  # not hers: no effect
    session.commit()
    assert list_notifications(session=session, actor=bao)[1] == 1
    mark_read(session=session, actor=bao, notification_id=bao_row.id)
    session.commit()
    assert list_notifications(session=session, actor=bao)[1] == 0
    assert list_notifications(session=session, actor=ana)[1] == 1


def test_mark_all_read(session, two_users):
    ana, bao = two_users
    for title in ("one", "two", "three"):
        notify_user(session=session, user_id=ana.user_id, title=title)
    notify_user(session=session, user_id=bao.user_id, title="untouched")
    session.commit()
    mark_read(session=session, actor=ana)
    session.commit()
    rows, unread = list_notifications(session=session, actor=ana)
    assert unread == 0 and len(rows) == 3 and all(r.read_at is not None for r in rows)
    assert list_notifications(session=session, actor=bao)[1] == 1


def test_the_list_is_limited_but_the_count_is_not(session, two_users):
    ana, _ = two_users
    for i in range(25):
        notify_user(session=session, user_id=ana.user_id, title=f"n{i}")
    session.commit()
    rows, unread = list_notifications(session=session, actor=ana, limit=20)
    assert len(rows) == 20 and unread == 25


def test_an_actor_without_a_user_has_no_bell(session):
    with pytest.raises(NotSignedIn):
        list_notifications(session=session, actor=SYSTEM_ACTOR)
    with pytest.raises(NotSignedIn):
        mark_read(session=session, actor=SYSTEM_ACTOR)


# ---------------------------------------------------------------- e-mail
def test_email_is_skipped_when_smtp_is_off(monkeypatch):
    monkeypatch.setattr(get_settings(), "smtp_enabled", False)
    assert send_email(to="ana@example.com", subject="Hi", body="text") is False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox(monkeypatch) -> Iterator[list]:
    """A local SMTP server on a free port; yields the messages it receives."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Inbox(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    port = _free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_enabled", True)
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_user", None)
    monkeypatch.setattr(settings, "app_url", "http://app.example")
    try:
        yield received
    finally:
        controller.stop()


def test_notification_with_email_reaches_the_user(sqlite_url, smtp_inbox):
    from sqlmodel import Session

    from profile_ui.db import make_engine

    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        user = create_user(
            session=session, actor=SYSTEM_ACTOR, email="ana@example.com", password="long enough", role="marketer"
        )
        notify_user(
            session=session,
            user_id=user.id,
            title="Import finished",
            body="1,000 rows imported",
            link="/imports/7",
            email=True,
        )
        session.commit()
        assert len(session.exec(select(Notification)).all()) == 1
    engine.dispose()
    [message] = smtp_inbox
    assert message["To"] == "ana@example.com" and message["Subject"] == "Import finished"
    assert "1,000 rows imported" in message.get_payload()
    assert "http://app.example/imports/7" in message.get_payload()


def test_unreachable_smtp_does_not_raise(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_enabled", True)
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", _free_port())  # nothing listens there
    assert send_email(to="ana@example.com", subject="Hi", body="text") is False
