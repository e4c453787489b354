"""Users, roles, sign-in sessions and login attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow


class Role(SQLModel, table=True):
    __tablename__ = "roles"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    description: str = Field(default="", max_length=255)
    # permission strings, e.g. "profiles.view", "export.identity.phone"
    permissions: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    is_builtin: bool = False


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True)
    full_name: str = Field(default="", max_length=255)
    password_hash: str = Field(max_length=255)
    role_id: int = Field(foreign_key="roles.id", index=True)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    # set when failed sign-ins from many addresses reached settings.login_lock_failures; the
    # right password from an address the user signed in from before, or an admin, lifts it
    locked_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    # the last lift: failures before it no longer count (services/sign_in_throttle.py)
    unlocked_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))


class UserSession(SQLModel, table=True):
    """A server-side sign-in session; the browser holds only the random token."""

    __tablename__ = "user_sessions"
    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    expires_at: datetime = Field(sa_column=dt_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """Failed and successful sign-ins, to slow guessing down (services/sign_in_throttle.py)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_email_at", "email", "at"),
        sa.Index("ix_login_attempts_email_client_at", "email", "client", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255)
    # the address the attempt came from ("" when unknown: the command line)
    client: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    success: bool = False


class ViewPreference(SQLModel, table=True):
    """Per-user list settings (columns, order, page size); user_id 0 = admin default."""

    __tablename__ = "view_preferences"
    user_id: int = Field(primary_key=True)
    view: str = Field(primary_key=True, max_length=64)
    settings: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
