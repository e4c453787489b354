"""Segments (name + value per profile) and saved filters behind them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow


class Segment(SQLModel, table=True):
    __tablename__ = "segments"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    description: str = Field(default="", max_length=500)
    source: str = Field(default="import", max_length=16)  # import | filter | manual
    filter: dict | None = Field(default=None, sa_column=json_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))


class SegmentMember(SQLModel, table=True):
    __tablename__ = "segment_members"
    __table_args__ = (sa.Index("ix_segment_members_profile", "profile_id"),)
    segment_id: int = Field(foreign_key="segments.id", primary_key=True, ondelete="CASCADE")
    profile_id: int = Field(foreign_key="profiles.id", primary_key=True, ondelete="CASCADE")
    value: str | None = Field(default=None, max_length=255)
    import_job_id: int | None = None
    added_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
