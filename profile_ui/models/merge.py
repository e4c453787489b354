"""Merges of two profiles: who merged which into which, why, and what both looked like.

A merge moves everything of the merged profile to the survivor and puts the merged one
in the trash as "merged into <survivor>". Its record keeps three snapshots (see
services/merge_snapshot.py for their shape): the survivor and the merged profile just
before the merge, and the survivor just after it, so an unmerge can give the merged
profile back exactly and tell the survivor's later changes from what the merge did.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow

MERGE_MANUAL = "manual"
MERGE_IMPORT = "import-sync-rule"
MERGE_REVIEW = "duplicate-review"
MERGE_SOURCES = (MERGE_MANUAL, MERGE_IMPORT, MERGE_REVIEW)


class ProfileMerge(SQLModel, table=True):
    __tablename__ = "profile_merges"
    __table_args__ = (
        sa.Index("ix_profile_merges_survivor", "survivor_id", "merged_at"),
        sa.Index("ix_profile_merges_merged", "merged_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # no foreign keys: the record (and its snapshots) outlives a purged profile
    survivor_id: int
    merged_id: int
    source: str = Field(default=MERGE_MANUAL, max_length=32)  # one of MERGE_SOURCES
    reason: str = Field(default="", max_length=1000)
    import_job_id: int | None = None
    merged_by: int | None = None
    merged_by_email: str | None = Field(default=None, max_length=255)
    merged_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    survivor_before: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    merged_before: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    survivor_after: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    # field keys whose survivor value the merge set from the merged profile (or a chosen value)
    changed_fields: list = Field(default_factory=list, sa_column=json_column(nullable=False))
    undone_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    undone_by: int | None = None
    undone_by_email: str | None = Field(default=None, max_length=255)
    # what the unmerge kept on the survivor (changes made after the merge) and could not restore
    undo_report: dict | None = Field(default=None, sa_column=json_column(nullable=True))
