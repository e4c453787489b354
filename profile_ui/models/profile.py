"""Profiles: one person each; system fields as columns, custom ones in JSON."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from anyascii import anyascii
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow

STATUS_ACTIVE = "active"
STATUS_DEACTIVATED = "deactivated"
STATUS_DELETED = "deleted"
PROFILE_STATUSES = (STATUS_ACTIVE, STATUS_DEACTIVATED, STATUS_DELETED)


class Profile(SQLModel, table=True):
    __tablename__ = "profiles"
    __table_args__ = (
        # list pages: status first (every list filters on it), then the sort key
        sa.Index("ix_profiles_status_created", "status", "created_at", "id"),
        sa.Index("ix_profiles_status_level", "status", "member_level", "created_at"),
        sa.Index("ix_profiles_status_name", "status", "full_name"),
        # the query box ("nguyen" finds "Nguyễn": a prefix range of the folded name) and the
        # sort by name (folded, then as written) read this one
        sa.Index("ix_profiles_status_name_folded", "status", "name_folded", "full_name"),
        sa.Index("ix_profiles_status_deleted", "status", "deleted_at"),
        # one per sortable column: without them a first page sorted by city takes seconds at 1M
        sa.Index("ix_profiles_status_updated", "status", "updated_at", "id"),
        sa.Index("ix_profiles_status_registered", "status", "registered_at", "id"),
        sa.Index("ix_profiles_status_city", "status", "city", "id"),
        sa.Index("ix_profiles_status_gender", "status", "gender", "id"),
        sa.Index("ix_profiles_status_birthday", "status", "birthday", "id"),
        # the sort by primary e-mail / phone (migration 0013)
        sa.Index("ix_profiles_status_email_sort", "status", "email_sort", "id"),
        sa.Index("ix_profiles_status_phone_sort", "status", "phone_sort", "id"),
        # a status's profiles in id order: the sort by a tag column reads the profiles
        # without the tag from it (migration 0014, services/profiles/tag_sort.py)
        sa.Index("ix_profiles_status_id", "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    full_name: str | None = Field(default=None, max_length=255)
    # fold_name(full_name), kept in step by every writer of full_name (ORM writes through
    # the listeners below, bulk writes through services/name_fold.py)
    name_folded: str | None = Field(default=None, max_length=255)
    gender: str | None = Field(default=None, max_length=32)
    birthday: date | None = None
    city: str | None = Field(default=None, max_length=128)
    member_level: str | None = Field(default=None, max_length=64)
    registered_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    status: str = Field(default=STATUS_ACTIVE, max_length=16)
    initial_source: str | None = Field(default=None, max_length=255)
    attributes: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    # fold_attributes(attributes): the text values as the query box compares them, kept in
    # step by every writer of attributes (as name_folded is); searched through one
    # expression index per text custom field (services/attribute_search.py)
    attributes_folded: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    deleted_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    deleted_by: int | None = None
    deleted_reason: str | None = Field(default=None, max_length=500)
    # the primary (first by id) plain e-mail and phone, the list's sort keys: written only
    # by triggers on identities (migration 0013; on SQLite services/bulk_writer.py runs
    # their statement set-based for a bulk insert of identities), never set by hand
    email_sort: str | None = Field(default=None, max_length=255)
    phone_sort: str | None = Field(default=None, max_length=255)
    # raised by a trigger on every UPDATE of the row (migration 0010): an edit made on a
    # page showing an older version is refused instead of overwriting what changed since
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


def fold_name(name: str | None) -> str | None:
    """A name as the query box compares it: transliterated to ASCII (anyascii: "Nguyễn"
    -> "Nguyen", "Đặng" -> "Dang"), lower case, runs of spaces as one. None for no name."""
    if name is None:
        return None
    folded = " ".join(anyascii(name).lower().split())[:255]
    return folded or None


def fold_attributes(attributes: dict[str, Any] | None) -> dict[str, str | None]:
    """The text values of custom attributes folded as fold_name folds a name ({} for none).

    Only string values are kept (numbers, lists and booleans are not searched as text); an
    empty string folds to None.
    """
    return {key: fold_name(value) for key, value in (attributes or {}).items() if isinstance(value, str)}


def with_folded_name(values: dict[str, Any]) -> dict[str, Any]:
    """UPDATE/INSERT values for profiles, with name_folded when they set full_name and
    attributes_folded when they set attributes (for Core statements, which the ORM
    listeners below do not see)."""
    if "full_name" in values:
        values = {**values, "name_folded": fold_name(values["full_name"])}
    if "attributes" in values:
        values = {**values, "attributes_folded": fold_attributes(values["attributes"])}
    return values


@sa.event.listens_for(Profile, "before_insert")
@sa.event.listens_for(Profile, "before_update")
def _fold_name_of_row(_mapper: Any, _connection: Any, profile: Profile) -> None:
    profile.name_folded = fold_name(profile.full_name)
    profile.attributes_folded = fold_attributes(profile.attributes)


# the expression index of each custom attribute (services/attribute_sort.py) is made at
# run time with the field: not part of the models, so schema comparisons leave it out
ATTRIBUTE_INDEX_PREFIX = "ix_profiles_attr_"
# and each text custom field's folded-value index (services/attribute_search.py)
SEARCH_INDEX_PREFIX = "ix_profiles_fold_"
# PostgreSQL only (migration 0016): the query box's name prefix as an index range. A LIKE
# 'abc%' can use a b-tree index only under the C collation or with text_pattern_ops, and
# the model's (status, name_folded, full_name) index serves the name sort in the
# database's collation, so the prefix search has one of its own there
NAME_PREFIX_INDEX = "ix_profiles_prefix_name_folded"


def in_modelled_schema(_object: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Alembic's `include_object`: everything but the custom attributes' indexes and the
    PostgreSQL-only prefix index."""
    return not (
        type_ == "index"
        and reflected
        and (name or "").startswith((ATTRIBUTE_INDEX_PREFIX, SEARCH_INDEX_PREFIX, NAME_PREFIX_INDEX))
    )


class AttributeProvenance(SQLModel, table=True):
    """Which source set a profile's value, when, and whether a person locked it.

    A value with no row here is the profile's own from creation: it came from
    `Profile.initial_source` at `Profile.created_at` (imports don't write a row per
    value of the profiles they create).
    """

    __tablename__ = "attribute_provenance"
    # No foreign key on purpose: its per-row check cost imports seconds on PostgreSQL;
    # a trigger on profiles removes these rows with their profile (migration 0003).
    profile_id: int = Field(primary_key=True)
    field_key: str = Field(primary_key=True, max_length=64)
    source_type: str = Field(max_length=16)  # file | manual | table | seed
    source_name: str | None = Field(default=None, max_length=255)
    import_job_id: int | None = Field(default=None, index=True)
    set_by: int | None = None
    set_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    locked: bool = False


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    profile_id: int = Field(foreign_key="profiles.id", primary_key=True, ondelete="CASCADE")
    channel: str = Field(primary_key=True, max_length=16)  # email | sms | push | phone
    status: str = Field(max_length=16)  # granted | denied | unknown
    source: str | None = Field(default=None, max_length=255)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))


class LinkedObject(SQLModel, table=True):
    """Accounts, opportunities, tickets and tasks linked to a profile."""

    __tablename__ = "linked_objects"
    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profiles.id", index=True, ondelete="CASCADE")
    object_type: str = Field(max_length=32)  # account | opportunity | ticket | task
    name: str = Field(max_length=255)
    external_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
