"""In-app notifications (the header bell)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user", "user_id", "read_at", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    title: str = Field(max_length=255)
    body: str = Field(default="", max_length=2000)
    link: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
