"""The audit log: append-only events. Nothing here updates or deletes a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import AuditEvent, utcnow
from .permissions import AUDIT_VIEW, Actor


def record_event(
    *,
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event in the caller's transaction (so it commits with the change)."""
    session.execute(
        sa.insert(AuditEvent).values(
            at=utcnow(),
            actor_id=actor.user_id,
            actor_email=actor.email,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            reason=reason,
            details=details or {},
        )
    )


def list_events(
    *,
    session: Session,
    actor: Actor,
    actor_email: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AuditEvent], int]:
    actor.require(AUDIT_VIEW)
    query = select(AuditEvent).where(
        *event_conditions(
            actor_email=actor_email,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
        )
    )
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset(offset).limit(limit)).all()
    return list(rows), total


@dataclass
class EventChoices:
    """The values the audit log's filters can take: who acted, which actions, which objects."""

    actors: list[str]
    actions: list[str]
    object_types: list[str]


def event_choices(*, session: Session, actor: Actor) -> EventChoices:
    """The distinct actors (e-mails), actions and object types in the log, sorted."""
    actor.require(AUDIT_VIEW)

    def distinct(column: Any) -> list[str]:
        return sorted(v for v in session.exec(select(column).distinct()).all() if v)

    return EventChoices(
        actors=distinct(AuditEvent.actor_email),
        actions=distinct(AuditEvent.action),
        object_types=distinct(AuditEvent.object_type),
    )


def event_conditions(
    *,
    actor_email: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[sa.ColumnElement]:
    """WHERE conditions for the audit log's filters (the same meaning as `list_events`'s,
    plus `object_id`); the CSV export of the log uses them. `until` is exclusive."""
    conditions: list[sa.ColumnElement] = []
    if actor_email:
        conditions.append(AuditEvent.actor_email == actor_email)
    if action:
        conditions.append(AuditEvent.action == action)
    if object_type:
        conditions.append(AuditEvent.object_type == object_type)
    if object_id:
        conditions.append(AuditEvent.object_id == str(object_id))
    if since:
        conditions.append(AuditEvent.at >= since)
    if until:
        conditions.append(AuditEvent.at < until)
    return conditions
