"""Groups (hubs, audiences) and their memberships."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, utcnow

MEMBERSHIP_STATES = ("invited", "active", "deactivated")


class Group(SQLModel, table=True):
    __tablename__ = "groups"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    description: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_memberships"
    __table_args__ = (sa.Index("ix_group_memberships_profile", "profile_id"),)
    group_id: int = Field(foreign_key="groups.id", primary_key=True, ondelete="CASCADE")
    profile_id: int = Field(foreign_key="profiles.id", primary_key=True, ondelete="CASCADE")
    state: str = Field(default="active", max_length=16)
    invited_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
