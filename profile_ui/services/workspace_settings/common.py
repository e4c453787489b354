"""What every settings service shares: the error an admin sees, the audit event of a
change, and the rules for names and keys.

A settings change raises SettingsError (its message tells the admin what to fix) and
writes one `settings.<what>.<change>` audit event in the caller's transaction.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.sql.dml import Delete, Update
from sqlmodel import Session, SQLModel, select

from ...models import Profile
from ..audit import record_event
from ..importing.normalize import fold_text
from ..permissions import Actor

RowT = TypeVar("RowT", bound=SQLModel)

NAME_MAX = 128
KEY_MAX = 64
RESERVED_KEYS = set(sa.inspect(Profile).columns.keys()) | {"identity", "identities", "tag", "tags"}


class SettingsError(ValueError):
    """A settings change that cannot be made; the message is for the admin."""


def rows_changed(
    session: Session, statement: Delete | Update | sa.TextClause, params: dict[str, Any] | None = None
) -> int:
    """Run a DELETE or UPDATE and return how many rows it changed. (Its result is a
    CursorResult, which has `rowcount`; Session.execute is typed as the general Result.)"""
    result = cast(sa.CursorResult[Any], session.execute(statement, params))
    return result.rowcount or 0


def audit_change(session: Session, actor: Actor, action: str, object_type: str, object_id: Any, **details: Any) -> None:
    record_event(
        session=session,
        actor=actor,
        action=f"settings.{action}",
        object_type=object_type,
        object_id=object_id,
        details=details,
    )


def clean_name(value: str, what: str, limit: int = NAME_MAX) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise SettingsError(f"Enter a name for the {what}")
    if len(name) > limit:
        raise SettingsError(f"A {what} name can have at most {limit} characters")
    return name


def make_key(label: str) -> str:
    """A field or identity-kind key from its label: "Điểm thưởng" -> "diem_thuong"."""
    key = re.sub(r"[^a-z0-9]+", "_", fold_text(label)).strip("_")[:KEY_MAX].strip("_")
    if key and key[0].isdigit():
        key = f"f_{key}"[:KEY_MAX]
    return key


def check_key(key: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key or ""):
        raise SettingsError(f"'{key}' cannot be a key: use lower-case letters, digits and _, starting with a letter")
    return key


def require_unique_name(
    session: Session, model: Any, name: str, what: str, exclude_id: int | None = None, **scope: Any
) -> None:
    query = select(model.id).where(model.name == name, *(getattr(model, k) == v for k, v in scope.items()))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if session.execute(query).first() is not None:
        raise SettingsError(f"A {what} named '{name}' already exists")


def get_or_refuse(session: Session, model: type[RowT], object_id: int, what: str) -> RowT:
    """The row `object_id` of `model`, or SettingsError when there is none."""
    row = session.get(model, object_id)
    if row is None:
        raise SettingsError(f"There is no {what} {object_id}")
    return row
