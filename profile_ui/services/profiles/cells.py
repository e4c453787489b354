"""What a page of profiles shows: identities and tags of a page of ids (one query each),
a stored value as text (`format_value`) and the list's cells per column key (`page_cells`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import (
    IDENTITY_PREFIX,
    Identity,
    Profile,
    ProfileTag,
)
from ..crypto import plain_value
from .errors import checked_id

# ---------------------------------------------------------------- page helpers


def identities_of(*, session: Session, profile_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{profile id: {kind: [values]}} for a page of profiles, in one query."""
    result: dict[int, dict[str, list[str]]] = {pid: {} for pid in profile_ids}
    if not profile_ids:
        return result
    rows = session.execute(
        sa.select(
            col(Identity.profile_id),
            col(Identity.kind),
            col(Identity.value),
            col(Identity.value_encrypted),
            col(Identity.key_id),
            col(Identity.is_encrypted),
        )
        .where(col(Identity.profile_id).in_(profile_ids))
        .order_by(col(Identity.id))
    ).all()
    for pid, kind, *stored in rows:  # encrypted values are decrypted for display
        result[pid].setdefault(kind, []).append(display_identity_value(*stored))
    return result


UNDECRYPTABLE = "•••• (cannot be decrypted)"


def display_identity_value(value: str, value_encrypted: str | None, key_id: str | None, is_encrypted: bool) -> str:
    """An identity as a person reads it: decrypted when stored encrypted (a marker when its
    key is not configured, never the hash)."""
    plain = plain_value(value, value_encrypted, key_id, is_encrypted)
    return UNDECRYPTABLE if plain is None else plain


def tags_of(
    *, session: Session, profile_ids: list[int], tag_ids: Sequence[int] | None = None
) -> dict[int, dict[int, list[str]]]:
    """{profile id: {tag id: [values]}} for a page of profiles (only `tag_ids` if given)."""
    result: dict[int, dict[int, list[str]]] = {pid: {} for pid in profile_ids}
    if not profile_ids or (tag_ids is not None and not tag_ids):
        return result
    query = select(ProfileTag.profile_id, ProfileTag.tag_id, ProfileTag.value).where(
        col(ProfileTag.profile_id).in_(profile_ids)
    )
    if tag_ids is not None:
        query = query.where(col(ProfileTag.tag_id).in_(list(tag_ids)))
    for pid, tag_id, value in session.exec(query.order_by(col(ProfileTag.id))).all():
        result[pid].setdefault(tag_id, []).append(value)
    return result


PROFILE_META_COLUMNS = ("created_at", "updated_at", "initial_source", "status", "id")
IDENTITY_COLUMN_PREFIX = IDENTITY_PREFIX
TAG_COLUMN_PREFIX = "tag:"


def format_value(value: Any) -> str:
    """A stored value as a person reads it in a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def page_cells(*, session: Session, rows: Sequence[Profile], columns: Sequence[str]) -> list[dict[str, str]]:
    """The list's cells: per row {"id": str(id), <column key>: text} for each column key.

    Column keys are those of view_prefs: a field key (system or custom attribute), a
    profile column in PROFILE_META_COLUMNS, "identity:<kind>" (values joined by ", ")
    or "tag:<id>" (the tag's values; "✓" for a tag without value). Two queries at most.
    """
    ids = [checked_id(p.id) for p in rows]
    kinds = [c[len(IDENTITY_COLUMN_PREFIX) :] for c in columns if c.startswith(IDENTITY_COLUMN_PREFIX)]
    tag_ids = [
        int(c[len(TAG_COLUMN_PREFIX) :])
        for c in columns
        if c.startswith(TAG_COLUMN_PREFIX) and c[len(TAG_COLUMN_PREFIX) :].isdigit()
    ]
    identities = identities_of(session=session, profile_ids=ids) if kinds else {}
    tags = tags_of(session=session, profile_ids=ids, tag_ids=tag_ids) if tag_ids else {}
    system = {column.key for column in sa.inspect(Profile).columns}
    out = []
    for pid, p in zip(ids, rows):
        cells = {"id": str(pid)}
        for column in columns:
            if column.startswith(IDENTITY_COLUMN_PREFIX):
                cells[column] = ", ".join(identities.get(pid, {}).get(column[len(IDENTITY_COLUMN_PREFIX) :], []))
            elif column.startswith(TAG_COLUMN_PREFIX):
                tag_id = column[len(TAG_COLUMN_PREFIX) :]
                values = tags.get(pid, {}).get(int(tag_id), []) if tag_id.isdigit() else []
                cells[column] = ", ".join(v or "✓" for v in values)
            elif column in system:
                cells[column] = format_value(getattr(p, column))
            else:
                cells[column] = format_value((p.attributes or {}).get(column))
        out.append(cells)
    return out
