"""In-app notifications and e-mail (SMTP from settings)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import Notification, User, utcnow
from ..settings import get_settings
from .permissions import Actor, NotSignedIn

log = logging.getLogger(__name__)


def notify_user(
    *,
    session: Session,
    user_id: int,
    title: str,
    body: str = "",
    link: str | None = None,
    email: bool = False,
) -> None:
    """Add a bell notification; with email=True also send it to the user's address."""
    session.add(Notification(user_id=user_id, title=title, body=body, link=link))
    if email:
        user = session.get(User, user_id)
        if user is not None:
            url = f"{get_settings().app_url.rstrip('/')}{link}" if link else None
            send_email(to=user.email, subject=title, body=body + (f"\n\n{url}" if url else ""))


def send_email(*, to: str, subject: str, body: str) -> bool:
    """Send one plain-text message; False (and a log line) when SMTP is off or fails."""
    settings = get_settings()
    if not settings.smtp_enabled:
        return False
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_user:
                smtp.starttls()
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send e-mail to %s: %s", to, exc)
        return False


def _require_user(actor: Actor) -> int:
    if actor.user_id is None:
        raise NotSignedIn()
    return actor.user_id


def list_notifications(*, session: Session, actor: Actor, limit: int = 20) -> tuple[list[Notification], int]:
    """The newest notifications of the actor and how many are unread."""
    user_id = _require_user(actor)
    rows = session.exec(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    ).all()
    unread = session.exec(
        select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ).one()
    return list(rows), unread


def mark_read(*, session: Session, actor: Actor, notification_id: int | None = None) -> None:
    """Mark one (or, with None, every) notification of the actor as read."""
    user_id = _require_user(actor)
    query = sa.update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    session.execute(query.values(read_at=utcnow()))
