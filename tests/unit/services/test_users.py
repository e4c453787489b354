"""Users, roles, sign-in, sessions and lockout, at the service level, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import AuditEvent, LoginAttempt, User, UserSession, utcnow
from profile_ui.services.permissions import SYSTEM_ACTOR, NotSignedIn, PermissionDenied
from profile_ui.services.users import (
    SignInError,
    UserError,
    actor_for_email,
    actor_for_token,
    change_role,
    create_user,
    list_users,
    sign_in,
    sign_out,
    unlock_user,
)
from profile_ui.settings import get_settings

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def make_user(session, email="ana@example.com", role="marketer", password=PASSWORD) -> User:
    user = create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=password, role=role, full_name="Ana")
    session.commit()
    return user


def audit(session, action):
    return session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()


def session_count(session) -> int:
    return session.exec(select(sa.func.count()).select_from(UserSession)).one()


# ---------------------------------------------------------------- users and roles
def test_create_user_is_audited_and_stores_a_password_hash(session):
    user = make_user(session, email="  Ana@Example.COM ")
    assert user.email == "ana@example.com"
    assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
    [event] = audit(session, "user.create")
    assert event.actor_email == "system"
    assert event.object_type == "user" and event.object_id == str(user.id)
    assert event.details == {"email": "ana@example.com", "role": "marketer"}


def test_duplicate_email_is_refused_whatever_its_case(session):
    make_user(session)
    with pytest.raises(UserError, match="already exists"):
        create_user(session=session, actor=SYSTEM_ACTOR, email="ANA@example.com", password=PASSWORD, role="viewer")
    session.rollback()
    assert len(session.exec(select(User)).all()) == 1


def test_bad_user_input_is_refused_with_a_reason(session):
    for email, password, role, message in [
        ("bob@example.com", "short", "viewer", "at least 8 characters"),
        ("not-an-email", PASSWORD, "viewer", "not an e-mail address"),
        ("bob@example.com", PASSWORD, "superuser", "Unknown role"),
    ]:
        with pytest.raises(UserError, match=message):
            create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=password, role=role)
        session.rollback()
    assert session.exec(select(User)).all() == []
    assert audit(session, "user.create") == []


def test_change_role_is_audited_and_takes_effect(session):
    user = make_user(session, role="viewer")
    change_role(session=session, actor=SYSTEM_ACTOR, user_id=user.id, role="admin")
    session.commit()
    [event] = audit(session, "user.role_change")
    assert event.details == {"email": "ana@example.com", "from": "viewer", "to": "admin"}
    actor = actor_for_email(session=session, email="ana@example.com")
    assert actor.role == "admin" and actor.can("settings.manage")


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_only_admins_manage_users(session, role):
    make_user(session, email="someone@example.com", role=role)
    target = make_user(session, email="target@example.com", role="viewer")
    actor = actor_for_email(session=session, email="someone@example.com")
    with pytest.raises(PermissionDenied, match="settings.manage"):
        create_user(session=session, actor=actor, email="new@example.com", password=PASSWORD, role="admin")
    with pytest.raises(PermissionDenied):
        change_role(session=session, actor=actor, user_id=target.id, role="admin")
    with pytest.raises(PermissionDenied):
        list_users(session=session, actor=actor)
    session.rollback()
    assert session.exec(select(User.email).where(User.email == "new@example.com")).first() is None
    assert actor_for_email(session=session, email="target@example.com").role == "viewer"
    assert audit(session, "user.role_change") == []


def test_admin_lists_users_with_their_roles(session):
    make_user(session, email="b@example.com", role="viewer")
    make_user(session, email="a@example.com", role="admin")
    admin = actor_for_email(session=session, email="a@example.com")
    assert [(u.email, role) for u, role in list_users(session=session, actor=admin)] == [
        ("a@example.com", "admin"),
        ("b@example.com", "viewer"),
    ]


# ---------------------------------------------------------------- sign-in and sessions
def test_sign_in_returns_a_token_that_resolves_to_the_user(session):
    user = make_user(session)
    token, actor = sign_in(session=session, email="ANA@example.com ", password=PASSWORD)
    assert actor.user_id == user.id and actor.role == "marketer"
    resolved = actor_for_token(session=session, token=token)
    assert resolved == actor and resolved.can("profiles.import") and not resolved.can("settings.manage")
    # only a hash of the token is stored: a copy of the database cannot sign anyone in
    stored = session.exec(select(UserSession.token_hash)).all()
    assert len(stored) == 1 and token not in stored
    assert audit(session, "user.sign_in")[0].object_id == str(user.id)
    assert session.get(User, user.id).last_login_at is not None


def test_wrong_credentials_raise_and_create_no_session(session):
    make_user(session)
    tries = [("ana@example.com", "wrong password"), ("nobody@example.com", PASSWORD), ("ana@example.com", "")]
    for email, password in tries:
        with pytest.raises(SignInError, match="Wrong e-mail or password"):
            sign_in(session=session, email=email, password=password)
        session.rollback()
    assert session_count(session) == 0
    assert audit(session, "user.sign_in") == []
    attempts = session.exec(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(a.email, a.success) for a in attempts] == [(e, False) for e, _ in tries]


def test_inactive_user_cannot_sign_in_and_loses_open_sessions(session):
    user = make_user(session)
    token, _ = sign_in(session=session, email=user.email, password=PASSWORD)
    user.is_active = False
    session.add(user)
    session.commit()
    with pytest.raises(NotSignedIn):
        actor_for_token(session=session, token=token)
    with pytest.raises(SignInError):
        sign_in(session=session, email=user.email, password=PASSWORD)


@pytest.fixture
def max_failures(monkeypatch) -> int:
    """A small throttle threshold for these tests (restored afterwards)."""
    monkeypatch.setattr(get_settings(), "login_max_failures", 3)
    monkeypatch.setattr(get_settings(), "login_lockout_minutes", 15)
    monkeypatch.setattr(get_settings(), "login_lock_failures", 7)
    return 3


ATTACKER, HOME, OFFICE = "203.0.113.66", "198.51.100.7", "192.0.2.10"


def fail(session, email, times, client=ATTACKER):
    for _ in range(times):
        with pytest.raises(SignInError):
            sign_in(session=session, email=email, password="wrong password", client=client)
        session.rollback()


def age_attempts(session, minutes):
    """Move every attempt `minutes` into the past (a fake clock for the waits)."""
    for attempt in session.exec(select(LoginAttempt)).all():
        attempt.at -= timedelta(minutes=minutes)
        session.add(attempt)
    session.commit()


def test_failures_from_one_address_slow_that_address_not_the_right_user(session, max_failures):
    user = make_user(session)
    fail(session, user.email, max_failures)
    # the guessing address waits, even with the right password ...
    with pytest.raises(SignInError, match="from this address. Try again in 15 minutes"):
        sign_in(session=session, email=user.email, password=PASSWORD, client=ATTACKER)
    session.rollback()
    # ... while the user, from their own address, signs in as usual
    token, _ = sign_in(session=session, email=user.email, password=PASSWORD, client=HOME)
    assert actor_for_token(session=session, token=token).user_id == user.id
    # another e-mail is not affected, even from the guessing address
    make_user(session, email="other@example.com")
    sign_in(session=session, email="other@example.com", password=PASSWORD, client=ATTACKER)


def test_each_further_failure_doubles_the_wait(session, max_failures):
    user = make_user(session)
    fail(session, user.email, max_failures)
    age_attempts(session, 16)  # the first wait is over
    fail(session, user.email, 1)
    with pytest.raises(SignInError, match="Try again in 30 minutes"):
        sign_in(session=session, email=user.email, password=PASSWORD, client=ATTACKER)
    session.rollback()
    age_attempts(session, 31)
    fail(session, user.email, 1)
    with pytest.raises(SignInError, match="Try again in 60 minutes"):
        sign_in(session=session, email=user.email, password="wrong password", client=ATTACKER)
    session.rollback()
    # refused tries are not checked and do not count
    assert session.exec(select(sa.func.count()).select_from(LoginAttempt)).one() == max_failures + 2


def test_guessing_from_many_addresses_locks_the_account_until_a_known_address_signs_in(session, max_failures):
    user = make_user(session)
    sign_in(session=session, email=user.email, password=PASSWORD, client=HOME)  # HOME becomes known
    for n in range(7):  # spread over addresses, each under the per-address limit
        fail(session, user.email, 1, client=f"203.0.113.{n}")
    assert session.get(User, user.id).locked_at is not None
    [lock] = audit(session, "user.lock")
    assert lock.object_id == str(user.id) and lock.details["failures"] == 7
    # a new address gets no further, even with the right password
    with pytest.raises(SignInError, match="account is locked"):
        sign_in(session=session, email=user.email, password=PASSWORD, client=OFFICE)
    session.rollback()
    with pytest.raises(SignInError, match="account is locked"):
        sign_in(session=session, email=user.email, password="wrong password", client=HOME)
    session.rollback()
    # the right password from the address the user signed in from before lifts the lock
    sign_in(session=session, email=user.email, password=PASSWORD, client=HOME)
    session.expire_all()
    assert session.get(User, user.id).locked_at is None
    [unlock] = audit(session, "user.unlock")
    assert unlock.actor_email == user.email and "signed in from before" in unlock.reason
    sign_in(session=session, email=user.email, password=PASSWORD, client=OFFICE)  # count started again


def test_an_admin_sees_and_lifts_a_lock(session, max_failures):
    user = make_user(session)
    make_user(session, email="boss@example.com", role="admin")
    admin = actor_for_email(session=session, email="boss@example.com")
    for n in range(7):
        fail(session, user.email, 1, client=f"203.0.113.{n}")
    locked = {u.email: u.locked_at for u, _role in list_users(session=session, actor=admin)}
    assert locked[user.email] is not None and locked["boss@example.com"] is None
    with pytest.raises(PermissionDenied):
        unlock_user(session=session, actor=actor_for_email(session=session, email=user.email), user_id=user.id)
    unlock_user(session=session, actor=admin, user_id=user.id)
    session.commit()
    [unlock] = audit(session, "user.unlock")
    assert unlock.actor_email == "boss@example.com" and unlock.reason == "unlocked by an admin"
    sign_in(session=session, email=user.email, password=PASSWORD, client=OFFICE)
    with pytest.raises(UserError, match="not locked"):
        unlock_user(session=session, actor=admin, user_id=user.id)


def test_fewer_failures_than_the_limit_do_not_lock(session, max_failures):
    user = make_user(session)
    fail(session, user.email, max_failures - 1)
    sign_in(session=session, email=user.email, password=PASSWORD, client=ATTACKER)
    # a success starts the count again
    fail(session, user.email, max_failures - 1)
    sign_in(session=session, email=user.email, password=PASSWORD, client=ATTACKER)


def test_the_wait_ends_after_the_lockout_minutes(session, max_failures):
    user = make_user(session)
    fail(session, user.email, max_failures)
    age_attempts(session, 16)
    token, _ = sign_in(session=session, email=user.email, password=PASSWORD, client=ATTACKER)
    assert actor_for_token(session=session, token=token).user_id == user.id


def test_an_expired_session_is_refused(session):
    user = make_user(session)
    token, _ = sign_in(session=session, email=user.email, password=PASSWORD)
    session.execute(sa.update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    with pytest.raises(NotSignedIn, match="session has ended"):
        actor_for_token(session=session, token=token)


def test_sessions_last_the_configured_hours(session):
    user = make_user(session)
    sign_in(session=session, email=user.email, password=PASSWORD)
    row = session.exec(select(UserSession)).one()
    hours = (row.expires_at - row.created_at) / timedelta(hours=1)
    assert hours == pytest.approx(get_settings().session_hours)


def test_sign_out_revokes_the_session(session):
    user = make_user(session)
    token, _ = sign_in(session=session, email=user.email, password=PASSWORD)
    other_token, _ = sign_in(session=session, email=user.email, password=PASSWORD)
    sign_out(session=session, token=token)
    with pytest.raises(NotSignedIn):
        actor_for_token(session=session, token=token)
    # signing out in one browser leaves the other signed in
    assert actor_for_token(session=session, token=other_token).user_id == user.id
    sign_out(session=session, token=token)  # twice is harmless
    sign_out(session=session, token=None)


def test_missing_or_unknown_tokens_are_refused(session):
    for token in (None, "", "made-up-token"):
        with pytest.raises(NotSignedIn):
            actor_for_token(session=session, token=token)
