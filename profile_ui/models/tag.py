"""Tag groups, tags and the tags on a profile."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, utcnow


class TagGroup(SQLModel, table=True):
    __tablename__ = "tag_groups"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("group_id", "name", name="uq_tags_group_name"),)
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="tag_groups.id", index=True)
    name: str = Field(max_length=128)
    kind: str = Field(default="text", max_length=16)  # text (one value) | multi


class ProfileTag(SQLModel, table=True):
    __tablename__ = "profile_tags"
    __table_args__ = (
        sa.UniqueConstraint("tag_id", "profile_id", "value", name="uq_profile_tags"),
        sa.Index("ix_profile_tags_profile", "profile_id"),
        # covering: the export reads a profile range's tags from the index alone
        sa.Index("ix_profile_tags_export", "profile_id", "id", "tag_id", "value"),
        # the list sorted by a tag column walks a tag's values in order (services/tag_sort.py)
        sa.Index("ix_profile_tags_sort", "tag_id", "value", "profile_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profiles.id", ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tags.id", ondelete="CASCADE")
    value: str = Field(default="", max_length=255)
    source: str = Field(default="manual", max_length=16)  # manual | import | seed
    # batch tagging's choice for later imports: overwrite (data wins) | ignore (this tag wins)
    policy: str | None = Field(default=None, max_length=16)
    import_job_id: int | None = None
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
