"""Append-only audit events (the database refuses UPDATE and DELETE: see the migration)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_at", "at"),
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        sa.Index("ix_audit_events_actor", "actor_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    actor_id: int | None = None  # no FK: the record outlives the user
    actor_email: str | None = Field(default=None, max_length=255)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    details: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
