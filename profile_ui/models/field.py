"""Field definitions: system and custom attributes of a profile."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from .base import json_column


class FieldDefinition(SQLModel, table=True):
    __tablename__ = "field_definitions"
    key: str = Field(primary_key=True, max_length=64)
    label: str = Field(max_length=128)
    type: str = Field(default="text", max_length=32)
    options: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    is_system: bool = False  # a real column on profiles, else a key in profiles.attributes
    required_on_create: bool = False
    is_pii: bool = False
    position: int = 0
