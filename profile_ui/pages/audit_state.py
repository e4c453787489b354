"""State of the audit log (/audit): filters (actor, action, object type and id, date
range), one page of events, and the CSV export of every event the filters match."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date
from typing import Any

import reflex as rx

from .. import routes
from ..db import session_scope
from ..models import AuditEvent, utcnow
from ..services.audit import event_choices, list_events
from ..services.exporting import export_audit_csv
from ..state.base import AppState, guarded
from ..state.dates import DayError, day_range, parse_day
from ..state.paging import PagedMixin
from .profiles.common import ANY, Choice

DETAILS_CHARS = 240
FILTER_KEYS = ("actor", "action", "object_type", "object_id", "since", "until")


class AuditFilterError(ValueError):
    """A filter value that cannot be read (a date); safe to show."""


@dataclasses.dataclass
class EventLine:
    """One audit event as the browser sees it."""

    id: int
    when: str
    actor: str
    action: str
    object: str
    reason: str
    details: str


def details_text(details: dict[str, Any] | None) -> str:
    """The event's details in one short line (the CSV export has them whole)."""
    if not details:
        return ""
    parts = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{key}: {shown}")
    text = "; ".join(parts)
    return text if len(text) <= DETAILS_CHARS else text[: DETAILS_CHARS - 1] + "…"


def event_line(event: AuditEvent) -> EventLine:
    obj = event.object_type + (f" {event.object_id}" if event.object_id else "")
    return EventLine(
        id=event.id or 0,
        when=f"{event.at:%Y-%m-%d %H:%M:%S}",
        actor=event.actor_email or "system",
        action=event.action,
        object=obj,
        reason=event.reason or "",
        details=details_text(event.details),
    )


def _day(text: str, what: str) -> date | None:
    """A date typed in the form (the profile list's reading), or None when empty."""
    try:
        return parse_day(text, what)
    except DayError as exc:
        raise AuditFilterError(str(exc)) from None


def filters_from_form(form: dict[str, Any]) -> dict[str, str]:
    """The filter form as stored filters (strings; "" is no condition). Refuses bad dates
    and a range that ends before it starts."""

    def pick(name: str) -> str:
        value = str(form.get(name) or "").strip()
        return "" if value == ANY else value

    filters = {key: pick(key) for key in FILTER_KEYS}
    since, until = _day(filters["since"], "From"), _day(filters["until"], "To")
    if since and until and until < since:
        raise AuditFilterError("The date range ends before it starts")
    return filters


def service_filters(filters: dict[str, str]) -> dict[str, Any]:
    """Stored filters as the keyword arguments of list_events / export_audit_csv; the
    "To" day is included (the services' `until` is exclusive)."""
    since, until = day_range(_day(filters.get("since", ""), "From"), _day(filters.get("until", ""), "To"))
    return {
        "actor_email": filters.get("actor") or None,
        "action": filters.get("action") or None,
        "object_type": filters.get("object_type") or None,
        "object_id": filters.get("object_id") or None,
        "since": since,
        "until": until,
    }


def _choices(values: list[str], any_label: str) -> list[Choice]:
    return [Choice(ANY, any_label)] + [Choice(v, v) for v in values]


class AuditState(PagedMixin, AppState):
    lines: list[EventLine] = []

    actor_choices: list[Choice] = []
    action_choices: list[Choice] = []
    object_type_choices: list[Choice] = []

    # the filters applied (also the filter form's defaults) and the form's key, bumped by
    # Reset so the browser forgets what was typed
    filters: dict[str, str] = dict.fromkeys(FILTER_KEYS, "")
    form_version: int = 0

    @rx.var
    def total_text(self) -> str:
        return f"{self.total:,} event{'' if self.total == 1 else 's'}"

    def _load(self, actor: Any, *, choices: bool = True) -> None:
        """The current page of events; with `choices`, the filters' values too (not on a
        page change: a distinct scan of a long log is not free)."""
        with session_scope() as session:
            if choices:
                offered = event_choices(session=session, actor=actor)
                self.actor_choices = _choices(offered.actors, "Anyone")
                self.action_choices = _choices(offered.actions, "Any action")
                self.object_type_choices = _choices(offered.object_types, "Any object")
            events, self.total = list_events(
                session=session,
                actor=actor,
                **service_filters(self.filters),
                offset=(self.page - 1) * self.page_size,
                limit=self.page_size,
            )
            if not events and self.total and self.page > self.pages:
                self.page = self.pages
                events, self.total = list_events(
                    session=session,
                    actor=actor,
                    **service_filters(self.filters),
                    offset=(self.page - 1) * self.page_size,
                    limit=self.page_size,
                )
            self.lines = [event_line(e) for e in events]

    def _show_page(self, actor: Any) -> None:
        self._load(actor, choices=False)

    @rx.event
    @guarded
    def on_load(self) -> None:
        actor = self._enter_page(routes.AUDIT)
        if actor is None:
            return
        self.page = 1
        self._load(actor)

    @rx.event
    @guarded
    def apply_filters(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        try:
            self.filters = filters_from_form(form_data)
        except AuditFilterError as exc:
            return rx.toast.error(str(exc))
        self.page = 1
        self._load(actor)
        return None

    @rx.event
    @guarded
    def reset_filters(self) -> None:
        actor = self._require_actor()
        self.filters = dict.fromkeys(FILTER_KEYS, "")
        self.page = 1
        self.form_version += 1
        self._load(actor)

    @rx.event
    @guarded
    def export_csv(self) -> Any:
        """Every event the applied filters match, as a CSV download (itself audited)."""
        actor = self._require_actor()
        out = io.BytesIO()
        with session_scope() as session:
            count = export_audit_csv(session=session, actor=actor, out=out, **service_filters(self.filters))
        self._load(actor)  # the export is an event too
        return [
            rx.download(data=out.getvalue(), filename=f"audit-log-{utcnow():%Y%m%d-%H%M%S}.csv"),
            rx.toast.success(f"Exported {count:,} event{'' if count == 1 else 's'}"),
        ]
