"""Exports (/exports): the signed-in user's exports, newest first, with their download
links while they live (the file is served by web/export_download.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from .. import routes
from ..components.shell import shell
from ..components.table_caption import hidden_caption
from ..db import session_scope
from ..services.exporting import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_QUEUED,
    STATUS_RUNNING,
    ExportError,
    export_status,
    list_exports,
)
from ..services.permissions import PermissionDenied
from ..state.base import AppState, Bell, actor_for_session, guarded, in_thread, read_bell
from .profiles.export_state import FIELDS_LABELS, FORMAT_LABELS

TITLE = "Exports"
_TIME = "%Y-%m-%d %H:%M UTC"
PENDING = (STATUS_QUEUED, STATUS_RUNNING)
WATCH_SECONDS = 3.0
WATCH_LIMIT_SECONDS = 30 * 60


@dataclasses.dataclass
class ExportLine:
    id: int
    when: str
    format: str
    fields: str
    rows: str
    status: str
    link: str  # the download URL, "" when there is nothing to download
    note: str  # expired / failed reason / until when


def export_line(item: Any) -> ExportLine:
    """One row of the page from a services.exporting.ExportListItem."""
    if item.download_url:
        note = f"until {item.expires_at:{_TIME}}" if item.expires_at else ""
    elif item.status == STATUS_COMPLETED and item.expired:
        note = f"Link expired {item.expires_at:{_TIME}}" if item.expires_at else "Link expired"
    elif item.status == STATUS_COMPLETED:
        note = "File no longer available"
    elif item.status == STATUS_FAILED:
        note = item.error or "Failed"
    else:
        note = "Being written; you will be notified"
    return ExportLine(
        id=item.id,
        when=item.created_at.strftime(_TIME),
        format=FORMAT_LABELS.get(item.format, item.format),
        fields=FIELDS_LABELS.get(item.fields_mode, item.fields_mode),
        rows=f"{item.row_count:,}" if item.status == STATUS_COMPLETED else "",
        status=item.status,
        link=item.download_url or "",
        note=note,
    )


def pending_statuses(lines: list[ExportLine]) -> dict[int, str]:
    """The exports of the list still being written, and their status."""
    return {line.id: line.status for line in lines if line.status in PENDING}


@dataclasses.dataclass(frozen=True)
class ShownExports:
    """The list as the watcher read it, and the bell once nothing is being written."""

    lines: list[ExportLine]
    bell: Bell | None


def _export_statuses(token: str, export_ids: list[int]) -> dict[int, str | None] | None:
    """Each export's status now (the watcher's cheap look, in an event thread); None when
    the session signs no one in or may not see them any more."""
    actor = actor_for_session(token)
    if actor is None:
        return None
    try:
        with session_scope() as session:
            return {i: export_status(session=session, actor=actor, export_id=i) for i in export_ids}
    except (PermissionDenied, ExportError):
        return None


def _read_page(token: str) -> ShownExports | None:
    """The list (and the bell when nothing is pending), read in an event thread."""
    actor = actor_for_session(token)
    if actor is None:
        return None
    try:
        with session_scope() as session:
            lines = [export_line(item) for item in list_exports(session=session, actor=actor)]
    except PermissionDenied:
        return None
    return ShownExports(lines, None if pending_statuses(lines) else read_bell(actor))


class ExportsState(AppState):
    lines: list[ExportLine] = []
    _watching: bool = False

    def _load(self, actor: Any) -> None:
        with session_scope() as session:
            self.lines = [export_line(item) for item in list_exports(session=session, actor=actor)]

    def _pending(self) -> bool:
        return bool(pending_statuses(self.lines))

    @rx.event
    @guarded
    def on_load(self) -> Any:
        actor = self._enter_page(routes.EXPORTS)
        if actor is None:
            return None
        self._load(actor)
        return ExportsState.watch if self._pending() else None

    @rx.event(background=True)
    async def watch(self) -> None:
        """While this page shows an export being written, poll the statuses of those being
        written (in an event thread, no lock held) and reload the list when one changed,
        until none is left (then the bell too)."""
        async with self:
            if self._watching:
                return
            self._watching = True
            token, watched = self._current_token(), pending_statuses(self.lines)
        try:
            for _ in range(int(WATCH_LIMIT_SECONDS / WATCH_SECONDS)):
                await asyncio.sleep(WATCH_SECONDS)
                statuses = await in_thread(_export_statuses, token, list(watched))
                if statuses is None:  # signed out, or may no longer export
                    return
                if watched and statuses == watched:
                    continue  # nothing new: the state is not locked
                shown = await in_thread(_read_page, token)
                if shown is None:
                    return
                async with self:
                    if str(self.router.url.path).rstrip("/") != routes.EXPORTS:
                        return
                    self.lines = shown.lines
                    if shown.bell is not None:
                        self._show_bell(shown.bell)
                        return
                    token = self._current_token()
                watched = pending_statuses(shown.lines)
        finally:
            async with self:
                self._watching = False

    @rx.event
    @guarded
    def refresh(self) -> None:
        self._load(self._require_actor())


def _row(line: ExportLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(line.when),
        rx.table.cell(line.format),
        rx.table.cell(line.fields),
        rx.table.cell(line.rows),
        rx.table.cell(
            rx.badge(line.status, color_scheme=rx.match(line.status, ("completed", "green"), ("failed", "red"), "gray"))
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    line.link != "",
                    # loaded by the browser from the backend, not routed as a page of the app
                    rx.link(
                        "Download",
                        href=line.link,
                        reload_document=True,
                        weight="medium",
                        aria_label=f"Download export {line.id}",
                    ),
                ),
                rx.text(line.note, size="2", color_scheme="gray"),
                spacing="3",
                align="center",
            )
        ),
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("download", size=40, color=rx.color("gray", 9), aria_hidden="true"),
            rx.text("No exports yet", size="4", weight="medium"),
            rx.text(
                "Export profiles from the ",
                rx.link("profile list", href=routes.PROFILES),
                "; your files are listed here.",
                color_scheme="gray",
            ),
            align="center",
            spacing="3",
        ),
        padding="4em",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
    )


def page() -> rx.Component:
    return shell(
        rx.vstack(
            rx.hstack(
                rx.text(
                    "Your exports, newest first. Download links expire; export the list again for a new file.",
                    color_scheme="gray",
                    size="2",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("refresh_cw", size=16, aria_hidden="true"),
                    "Refresh",
                    variant="soft",
                    on_click=ExportsState.refresh,
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                ExportsState.lines.length() > 0,
                rx.table.root(
                    hidden_caption("Exports"),
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("When", "Format", "Fields", "Profiles", "Status", "Download")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(ExportsState.lines, _row)),
                    width="100%",
                ),
                _empty(),
            ),
            spacing="4",
            width="100%",
        ),
        route=routes.EXPORTS,
        title=TITLE,
    )
