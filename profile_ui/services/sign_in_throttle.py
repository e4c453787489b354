"""Slowing down password guessing without letting anyone lock a user out.

`users.sign_in` asks this module before and after checking a password:

- Per e-mail + client address: after `login_max_failures` failures for an e-mail from one
  address (since that address last signed in to it), that address waits
  `login_lockout_minutes` before its next try for that e-mail, and each further failure
  doubles the wait (at most a day). Other addresses are not slowed: a stranger who types
  wrong passwords for someone's e-mail slows down only themselves.
- Per account: when failures for a user's e-mail from all addresses together reach
  `login_lock_failures` since the last success (guessing spread over many addresses), the
  account is locked (`User.locked_at`). The right password from an address the user
  signed in from before lifts the lock; otherwise an admin does (Settings → Users).

Every lock and every lift is an audit event (`user.lock`, `user.unlock`). A lift
(`User.unlocked_at`) also starts every address's count again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..models import LoginAttempt, User, utcnow
from ..settings import get_settings
from .audit import record_event
from .permissions import SYSTEM_ACTOR, Actor

MAX_WAIT = timedelta(days=1)
# an address counts as the user's own when it signed in to the account this recently
KNOWN_CLIENT_DAYS = 90
CLIENT_MAX_CHARS = 64


def client_key(client: str | None) -> str:
    """The stored form of a client address ("" when unknown, e.g. the command line)."""
    return (client or "").strip()[:CLIENT_MAX_CHARS]


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _last_success(session: Session, email: str, client: str | None = None) -> datetime | None:
    where = [col(LoginAttempt.email) == email, col(LoginAttempt.success).is_(True)]
    if client is not None:
        where.append(col(LoginAttempt.client) == client)
    return session.exec(select(sa.func.max(LoginAttempt.at)).where(*where)).one()


def address_wait(
    *, session: Session, email: str, client: str, user: User | None, now: datetime | None = None
) -> timedelta:
    """How long this address must still wait before its next try for this e-mail (zero:
    it may try now)."""
    settings = get_settings()
    now = now or utcnow()
    a = LoginAttempt
    since = _latest(now - MAX_WAIT, _last_success(session, email, client), user.unlocked_at if user else None)
    failures, last = session.exec(
        select(sa.func.count(), sa.func.max(a.at)).where(
            col(a.email) == email, col(a.client) == client, col(a.success).is_(False), col(a.at) > since
        )
    ).one()
    if failures < settings.login_max_failures or last is None:
        return timedelta(0)
    doublings = min(failures - settings.login_max_failures, 16)
    wait = min(timedelta(minutes=settings.login_lockout_minutes) * 2**doublings, MAX_WAIT)
    return max(last + wait - now, timedelta(0))


def wait_text(wait: timedelta) -> str:
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def is_known_client(*, session: Session, email: str, client: str, now: datetime | None = None) -> bool:
    """The address signed in to this e-mail's account within KNOWN_CLIENT_DAYS."""
    if not client:
        return False
    last = _last_success(session, email, client)
    return last is not None and last > (now or utcnow()) - timedelta(days=KNOWN_CLIENT_DAYS)


def lock_if_guessed(*, session: Session, user: User, client: str) -> bool:
    """After a failure: lock the account when failures from all addresses since the last
    success (or lift) reached `login_lock_failures`. Returns whether it locked now."""
    if user.locked_at is not None:
        return False
    a = LoginAttempt
    since = _latest(_last_success(session, user.email), user.unlocked_at)
    where = [col(a.email) == user.email, col(a.success).is_(False)] + ([col(a.at) > since] if since else [])
    failures = session.exec(select(sa.func.count()).select_from(a).where(*where)).one()
    if failures < get_settings().login_lock_failures:
        return False
    user.locked_at = utcnow()
    session.add(user)
    record_event(
        session=session,
        actor=SYSTEM_ACTOR,
        action="user.lock",
        object_type="user",
        object_id=user.id,
        reason="too many failed sign-ins",
        details={"email": user.email, "failures": failures, "last_client": client},
    )
    return True


def lift_lock(*, session: Session, user: User, actor: Actor, how: str, client: str = "") -> None:
    """Unlock the account (and start every address's count again); audited."""
    was_locked = user.locked_at
    user.locked_at, user.unlocked_at = None, utcnow()
    session.add(user)
    record_event(
        session=session,
        actor=actor,
        action="user.unlock",
        object_type="user",
        object_id=user.id,
        reason=how,
        details={"email": user.email, "client": client, "locked_at": was_locked.isoformat() if was_locked else None},
    )
