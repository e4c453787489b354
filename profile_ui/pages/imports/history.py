"""/imports: every import, newest first, filterable by status and kind; cancel a queued one."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import reflex as rx

from ... import routes
from ...components.shell import shell
from ...db import session_scope
from ...models import IMPORT_KINDS, IMPORT_STATUSES, ImportJob
from ...services import users
from ...services.importing import jobs as import_jobs
from ...services.importing import possible_duplicates
from ...services.permissions import PROFILES_IMPORT
from ...state.base import AppState, guarded

TITLE = "Imports"
LIST_LIMIT = 200


@dataclasses.dataclass
class ImportLine:
    id: int
    file: str
    kind: str
    who: str
    when: str
    status: str
    duration: str
    totals: str
    link: str
    can_cancel: bool


def duration_text(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0, int((end - start).total_seconds()))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def totals_text(counts: dict[str, Any] | None) -> str:
    if not import_jobs.report_counts(counts)["rows"]:
        return ""
    return import_jobs.totals_text(counts) + possible_duplicates.counts_note(counts)


def status_text(job: ImportJob) -> str:
    return import_jobs.report_status(job).replace("_", " ")


class ImportsState(AppState):
    lines: list[ImportLine] = []
    status_filter: str = "all"
    kind_filter: str = "all"

    def _load(self) -> None:
        actor = self._require_actor()
        actor.require(PROFILES_IMPORT)
        status = None if self.status_filter == "all" else self.status_filter
        kind = None if self.kind_filter == "all" else self.kind_filter
        with session_scope() as session:
            jobs, _total = import_jobs.list_imports(
                session=session, actor=actor, status=status, kind=kind, limit=LIST_LIMIT
            )
            emails = users.user_emails(
                session=session, actor=actor, user_ids={j.created_by for j in jobs if j.created_by}
            )
            self.lines = [
                ImportLine(
                    id=j.id,
                    file=j.file_name,
                    kind=j.kind,
                    who=emails.get(j.created_by or 0, "system"),
                    when=j.created_at.strftime("%Y-%m-%d %H:%M"),
                    status=status_text(j),
                    duration=duration_text(j.started_at, j.finished_at),
                    totals=totals_text(j.counts),
                    link=import_jobs.report_link(j.id),
                    can_cancel=j.status in (import_jobs.QUEUED, import_jobs.AWAITING_CONFIRMATION),
                )
                for j in jobs
            ]

    @rx.event
    @guarded
    def on_load(self) -> None:
        if self._enter_page(routes.IMPORTS) is not None:
            self._load()

    @rx.event
    @guarded
    def set_status_filter(self, value: str) -> None:
        if value in ("all", *IMPORT_STATUSES):
            self.status_filter = value
        self._load()

    @rx.event
    @guarded
    def set_kind_filter(self, value: str) -> None:
        if value in ("all", *IMPORT_KINDS):
            self.kind_filter = value
        self._load()

    @rx.event
    @guarded
    def cancel(self, job_id: int) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                job = import_jobs.cancel_import(session=session, actor=actor, job_id=int(job_id))
                name = job.file_name
        except import_jobs.ImportJobError as exc:
            return rx.toast.error(str(exc))
        self._load()
        return rx.toast.success(f"{name}: import cancelled")


def _line(line: ImportLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.link(line.file, href=line.link)),
        rx.table.cell(line.kind),
        rx.table.cell(line.who),
        rx.table.cell(line.when),
        rx.table.cell(rx.badge(line.status)),
        rx.table.cell(line.duration),
        rx.table.cell(rx.text(line.totals, size="2")),
        rx.table.cell(
            rx.cond(
                line.can_cancel,
                rx.button(
                    "Cancel",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    aria_label=f"Cancel import of {line.file}",
                    on_click=ImportsState.cancel(line.id),
                ),
            )
        ),
    )


def _filter(label: str, id_: str, choices: tuple[str, ...], value: rx.Var, on_change: Any) -> rx.Component:
    return rx.hstack(
        rx.el.label(label, html_for=id_),
        rx.el.select(
            *[rx.el.option(c.replace("_", " ").capitalize(), value=c) for c in ("all", *choices)],
            id=id_,
            value=value,
            on_change=on_change,
        ),
        align="center",
    )


def page() -> rx.Component:
    return shell(
        rx.vstack(
            rx.hstack(
                rx.button(
                    rx.link(
                        rx.icon("upload", size=16, aria_hidden="true"),
                        "New import",
                        href=routes.IMPORT_NEW,
                        underline="none",
                    ),
                    as_child=True,
                ),
                _filter(
                    "Status",
                    "imports-status",
                    IMPORT_STATUSES,
                    ImportsState.status_filter,
                    ImportsState.set_status_filter,
                ),
                _filter("Kind", "imports-kind", IMPORT_KINDS, ImportsState.kind_filter, ImportsState.set_kind_filter),
                spacing="5",
                align="center",
            ),
            rx.cond(
                ImportsState.lines.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("File", "Kind", "Who", "When", "Status", "Duration", "Totals", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(ImportsState.lines, _line)),
                    aria_label="Imports",
                    width="100%",
                ),
                rx.text("No imports yet."),
            ),
            spacing="4",
            width="100%",
        ),
        route=routes.IMPORTS,
        title=TITLE,
    )
