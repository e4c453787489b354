"""Users, roles, sign-in and server-side sessions.

A session is a user_sessions row; the browser holds only its random token (in an HttpOnly
cookie set by web/auth_session.py), the database only the token's SHA-256. Every request
and event looks the token up again (actor_for_token): revoking the row (sign_out) or
deactivating the user ends the session everywhere at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from ..models import LoginAttempt, Role, User, UserSession, utcnow
from ..settings import get_settings
from . import sign_in_throttle as throttle
from .audit import record_event
from .permissions import BUILTIN_ROLES, PROFILES_VIEW, SETTINGS_MANAGE, Actor, NotSignedIn

_hasher = PasswordHasher()
# verified against when the e-mail is unknown, so timing does not reveal which e-mails exist
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8
# how long the one-time code from start_sign_in may be redeemed for the session cookie
SIGN_IN_CODE_SECONDS = 60
LOCKED_MESSAGE = (
    "This account is locked after many failed sign-ins. Sign in from a device you "
    "used before, or ask an admin to unlock it."
)


class SignInError(Exception):
    """Wrong credentials or a locked account; the message is safe to show."""


class UserError(ValueError):
    """Bad input for a user operation; the message is safe to show."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(code: str) -> str:
    # a different hash from _token_hash's for the same string: codes and tokens never mix
    return hashlib.sha256(f"sign-in-code:{code}".encode()).hexdigest()


def ensure_builtin_roles(*, session: Session) -> None:
    """Create or refresh the built-in roles (idempotent)."""
    for name, (description, permissions) in BUILTIN_ROLES.items():
        role = session.exec(select(Role).where(Role.name == name)).first()
        if role is None:
            session.add(Role(name=name, description=description, permissions=permissions, is_builtin=True))
        elif role.is_builtin and sorted(role.permissions) != sorted(permissions):
            role.permissions = list(permissions)
            session.add(role)
    session.flush()


def actor_for_user(*, session: Session, user: User) -> Actor:
    return _actor(user, session.get(Role, user.role_id))


def _actor(user: User, role: Role | None) -> Actor:
    return Actor(
        user_id=user.id,
        email=user.email,
        role=role.name if role else "",
        permissions=frozenset(role.permissions if role else ()),
    )


def actor_for_email(*, session: Session, email: str) -> Actor:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.is_active:
        raise UserError(f"No active user with e-mail {email}")
    return actor_for_user(session=session, user=user)


def create_user(*, session: Session, actor: Actor, email: str, password: str, role: str, full_name: str = "") -> User:
    actor.require(SETTINGS_MANAGE)
    email = email.strip().lower()
    if "@" not in email:
        raise UserError(f"'{email}' is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")
    role_row = session.exec(select(Role).where(Role.name == role)).first()
    if role_row is None:
        raise UserError(f"Unknown role '{role}'")
    if session.exec(select(User).where(User.email == email)).first():
        raise UserError(f"A user with e-mail {email} already exists")
    user = User(email=email, full_name=full_name, password_hash=hash_password(password), role_id=role_row.id)
    session.add(user)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        details={"email": email, "role": role},
    )
    return user


def change_role(*, session: Session, actor: Actor, user_id: int, role: str) -> User:
    actor.require(SETTINGS_MANAGE)
    user = session.get(User, user_id)
    role_row = session.exec(select(Role).where(Role.name == role)).first()
    if user is None or role_row is None:
        raise UserError("Unknown user or role")
    old = session.get(Role, user.role_id)
    user.role_id = role_row.id
    session.add(user)
    record_event(
        session=session,
        actor=actor,
        action="user.role_change",
        object_type="user",
        object_id=user.id,
        details={"email": user.email, "from": old.name if old else None, "to": role},
    )
    return user


def list_users(*, session: Session, actor: Actor) -> list[tuple[User, str]]:
    actor.require(SETTINGS_MANAGE)
    rows = session.exec(select(User, Role.name).join(Role).order_by(User.email)).all()
    return [(u, r) for u, r in rows]


def user_emails(*, session: Session, actor: Actor, user_ids: set[int] | list[int]) -> dict[int, str]:
    """user id -> e-mail, to say who did something (imports, exports); any signed-in role
    that sees profiles may read it, unlike the full user list."""
    actor.require(PROFILES_VIEW)
    ids = sorted({int(i) for i in user_ids if i})
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.email).where(User.id.in_(ids))).all())


def _check_credentials(*, session: Session, email: str, password: str, client: str | None) -> User:
    """The user whose e-mail and password these are, or SignInError (see sign_in)."""
    email = (email or "").strip().lower()
    client = throttle.client_key(client)
    user = session.exec(select(User).where(User.email == email)).first()
    wait = throttle.address_wait(session=session, email=email, client=client, user=user)
    if wait:
        raise SignInError(f"Too many failed sign-ins from this address. Try again in {throttle.wait_text(wait)}.")
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.is_active
    if ok and user.locked_at is not None:
        if not throttle.is_known_client(session=session, email=email, client=client):
            # the right password from an address the user never signed in from: say only
            # that the account is locked (a wrong one gets the same answer below)
            raise SignInError(LOCKED_MESSAGE)
        throttle.lift_lock(
            session=session,
            user=user,
            actor=actor_for_user(session=session, user=user),
            how="the right password from an address the user signed in from before",
            client=client,
        )
    session.add(LoginAttempt(email=email, client=client, success=ok))
    if not ok or user is None:
        locked = user is not None and (
            user.locked_at is not None or throttle.lock_if_guessed(session=session, user=user, client=client)
        )
        session.commit()  # the failure (and a lock) must count even though we raise
        raise SignInError(LOCKED_MESSAGE if locked else "Wrong e-mail or password.")
    user.last_login_at = utcnow()
    session.add(user)
    actor = actor_for_user(session=session, user=user)
    record_event(session=session, actor=actor, action="user.sign_in", object_type="user", object_id=user.id)
    return user


def _new_session(*, session: Session, user_id: int) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
        )
    )
    return token


def sign_in(*, session: Session, email: str, password: str, client: str | None = None) -> tuple[str, Actor]:
    """Check the credentials; return a new session token and the actor (the command line
    and tests; the browser signs in through start_sign_in and redeem_sign_in_code).

    `client` is the address the attempt comes from. Guessing is slowed per e-mail + address
    and a locked account opens only to the right password from a known address (see
    services/sign_in_throttle.py); the refusal says what to do.
    """
    user = _check_credentials(session=session, email=email, password=password, client=client)
    token = _new_session(session=session, user_id=_user_id(user))
    actor = actor_for_user(session=session, user=user)
    session.commit()
    return token, actor


def start_sign_in(*, session: Session, email: str, password: str, client: str | None = None) -> tuple[str, Actor]:
    """Check the credentials as sign_in does (same throttling and lockout, audited), but
    return a one-time sign-in code instead of a session token, and the actor.

    The browser's session cookie is HttpOnly, so only an HTTP answer can set it: the page
    posts the code to POST /auth/session (web/auth_session.py), which redeems it
    (redeem_sign_in_code) for the session token and sets the cookie. The code is good once,
    for SIGN_IN_CODE_SECONDS. It is stored as a user_sessions row whose hash is taken with
    a prefix, so a code can never be used as a session token and vice versa.
    """
    user = _check_credentials(session=session, email=email, password=password, client=client)
    code = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_code_hash(code),
            user_id=_user_id(user),
            created_at=now,
            expires_at=now + timedelta(seconds=SIGN_IN_CODE_SECONDS),
        )
    )
    actor = actor_for_user(session=session, user=user)
    session.commit()
    return code, actor


def redeem_sign_in_code(*, session: Session, code: str | None, now: datetime | None = None) -> str | None:
    """The new session token for a sign-in code from start_sign_in, or None when the code
    is unknown, used, expired or its user was deactivated since. Using it and making the
    session is one conditional UPDATE, so of two requests with one code only one wins,
    whichever backend worker each reaches. Commits."""
    if not code:
        return None
    now = now or utcnow()
    table = UserSession.__table__
    used = session.execute(
        sa.update(table)
        .where(
            table.c.token_hash == _code_hash(code),
            table.c.revoked_at.is_(None),
            table.c.expires_at > now,
        )
        .values(revoked_at=now)
    )
    if used.rowcount != 1:
        session.rollback()
        return None
    user_id = session.execute(sa.select(table.c.user_id).where(table.c.token_hash == _code_hash(code))).scalar_one()
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        session.commit()  # the code stays used
        return None
    token = _new_session(session=session, user_id=user_id)
    session.commit()
    return token


def _user_id(user: User) -> int:
    if user.id is None:
        raise ValueError("a stored user has an id")
    return user.id


def unlock_user(*, session: Session, actor: Actor, user_id: int) -> User:
    """An admin lifts the lock that failed sign-ins put on an account (audited)."""
    actor.require(SETTINGS_MANAGE)
    user = session.get(User, user_id)
    if user is None:
        raise UserError("Unknown user")
    if user.locked_at is None:
        raise UserError(f"{user.email} is not locked")
    throttle.lift_lock(session=session, user=user, actor=actor, how="unlocked by an admin")
    session.flush()
    return user


def actor_for_token(*, session: Session, token: str | None) -> Actor:
    """The actor behind a browser's session token; NotSignedIn if missing, expired or revoked."""
    if not token:
        raise NotSignedIn()
    # every event of every tab asks this (state/base.py _require_actor), so one round trip
    # for session, user and role instead of three (the load bench: a fifth of the
    # handlers' time under load went to these lookups)
    found = session.exec(
        select(UserSession, User, Role)
        .join(User, col(User.id) == col(UserSession.user_id))
        .outerjoin(Role, col(Role.id) == col(User.role_id))
        .where(UserSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        raise NotSignedIn()
    row, user, role = found
    if row.revoked_at is not None or row.expires_at <= utcnow() or not user.is_active:
        raise NotSignedIn()
    return _actor(user, role)


def sign_out(*, session: Session, token: str | None) -> None:
    if not token:
        return
    row = session.get(UserSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.commit()
