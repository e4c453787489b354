"""Identities (kind + normalized value -> one profile) and the sync rules over them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow

BUILTIN_IDENTITY_KINDS = ("user_id", "email", "phone")


class IdentityKind(SQLModel, table=True):
    __tablename__ = "identity_kinds"
    key: str = Field(primary_key=True, max_length=64)
    label: str = Field(max_length=128)
    is_builtin: bool = False
    position: int = 0


class Identity(SQLModel, table=True):
    __tablename__ = "identities"
    __table_args__ = (
        sa.UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
        # covering: the export reads a profile range's identities from the index alone
        sa.Index("ix_identities_export", "profile_id", "id", "kind", "value", "is_encrypted"),
        # the first identity of a kind per profile, which the sort-key triggers read on every
        # write (migration 0013); unique (it holds the id) so that bulk loads that drop the
        # plain indexes while they load (seed/load.py) keep it
        sa.Index("ux_identities_profile_kind", "profile_id", "kind", "id", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profiles.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=64)
    # normalized value, or its keyed hash (HMAC) when the kind is stored encrypted
    value: str = Field(max_length=255)
    value_encrypted: str | None = Field(default=None, max_length=1024)
    key_id: str | None = Field(default=None, max_length=32)
    is_encrypted: bool = False
    source_type: str = Field(default="manual", max_length=16)  # file | table | manual | seed
    source_name: str | None = Field(default=None, max_length=255)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))


class SyncRule(SQLModel, table=True):
    """Identity resolution: ordered identifier kinds, auto-merge, per-field merge policy."""

    __tablename__ = "sync_rules"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    identifier_kinds: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    auto_merge: bool = False
    default_policy: str = Field(default="overwrite", max_length=16)  # overwrite | fill_empty | never
    field_policies: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    is_active: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
