"""State of the profile list's Export dialog (issue #6): what is exported (the list's
query and filters, or the selected profiles), which fields, which format; the preview
(how many profiles, the columns, those left out) before the user confirms.

The filter is taken from ProfilesListState on the server when the dialog opens and kept
backend-only, so the file holds exactly what the dialog announced. Under the sync limit
the file is written at once and sent to the browser; from the limit on a job writes it
and the user is told (bell and e-mail) with the download link.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from ...db import session_scope
from ...services import file_store
from ...services.exporting import (
    EXPORT_FORMATS,
    FIELDS_MODES,
    STATUS_COMPLETED,
    STATUS_FAILED,
    ExportError,
    export_profiles,
    export_status,
    preview_export,
)
from ...services.permissions import PROFILES_EXPORT, PermissionDenied
from ...services.profiles import ProfileError, ProfileFilter
from ...settings import get_settings
from ...state.base import AppState, actor_for_session, bell_for_session, guarded, in_thread
from ...state.dialog import DialogMixin
from .common import plural
from .list_state import ProfilesListState

FIELDS_LABELS = {"displayed": "Displayed fields", "all": "All fields"}
FORMAT_LABELS = {"xlsx": "Excel (.xlsx)", "csv": "CSV (.csv)", "zip": "ZIP of CSV (.zip)"}
WATCH_SECONDS = 2.0
WATCH_LIMIT_SECONDS = 30 * 60


def _plain(value: Any) -> Any:
    """A copy of another state's dict/list var without Reflex's change-tracking proxies."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class ExportDialogState(DialogMixin, AppState):
    fields_label: str = FIELDS_LABELS["displayed"]
    format_label: str = FORMAT_LABELS["xlsx"]
    scope_text: str = ""  # what is exported: the selection or the list's query
    count: int = 0
    columns: list[str] = []
    left_out: list[str] = []
    background: bool = False
    error: str = ""

    _flt_json: dict = {}
    _watching: list[int] = []

    # ------------------------------------------------------------ derived
    @rx.var
    def count_text(self) -> str:
        if self.error:
            return ""
        return f"{plural(self.count, 'profile')} will be exported with {plural(len(self.columns), 'column')}."

    @rx.var
    def columns_text(self) -> str:
        return ", ".join(self.columns)

    @rx.var
    def background_text(self) -> str:
        limit = get_settings().export_sync_limit
        return (
            f"From {limit:,} profiles the export runs in the background: when the file is "
            "ready you get a notification and an e-mail with its download link."
        )

    # ------------------------------------------------------------ helpers
    def _fields_mode(self) -> str:
        return next((k for k, v in FIELDS_LABELS.items() if v == self.fields_label), "displayed")

    def _format(self) -> str:
        return next((k for k, v in FORMAT_LABELS.items() if v == self.format_label), "xlsx")

    def _flt(self) -> ProfileFilter:
        return ProfileFilter.from_json(_plain(self._flt_json))

    def _preview(self) -> None:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                preview = preview_export(session=session, actor=actor, flt=self._flt(), fields_mode=self._fields_mode())
        except (ExportError, ProfileError) as exc:
            self.error, self.count, self.columns, self.left_out = str(exc), 0, [], []
            return
        self.error = ""
        self.count, self.columns = preview.count, preview.columns
        self.left_out, self.background = preview.left_out, preview.background

    # ------------------------------------------------------------ events
    @rx.event
    @guarded
    async def open_dialog(self) -> Any:
        """Take the list's selection (when profiles are selected, and not "all matching")
        or its query and filters, and show the preview."""
        listing = await self.get_state(ProfilesListState)
        return await in_thread(self._open_dialog, listing)

    def _open_dialog(self, listing: ProfilesListState) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_EXPORT)
        listed = listing._flt()
        flt = ProfileFilter(**{f.name: _plain(getattr(listed, f.name)) for f in dataclasses.fields(listed)})
        ids = [int(i) for i in listing.selected if str(i).isdigit()]
        if ids and not listing.all_matching:
            flt = dataclasses.replace(flt, profile_ids=ids)
            self.scope_text = f"The {plural(len(ids), 'selected profile')}."
        elif listing.all_matching:
            self.scope_text = "All profiles matching the list's query and filters (all selected)."
        else:
            self.scope_text = (
                "The profiles matching the list's query and filters (select profiles in the list to export only those)."
            )
        self._flt_json = flt.to_json()
        self._preview()
        self.is_open = True
        return None

    @rx.event
    @guarded
    def set_fields(self, label: str) -> None:
        if label in FIELDS_LABELS.values():
            self.fields_label = label
        self._preview()

    @rx.event
    @guarded
    def set_format(self, label: str) -> None:
        self._require_actor()
        if label in FORMAT_LABELS.values():
            self.format_label = label

    @rx.event
    @guarded
    def confirm(self) -> Any:
        actor = self._require_actor()
        fmt, fields_mode = self._format(), self._fields_mode()
        if fmt not in EXPORT_FORMATS or fields_mode not in FIELDS_MODES:
            return None
        try:
            with session_scope() as session:
                result = export_profiles(
                    session=session, actor=actor, flt=self._flt(), fields_mode=fields_mode, fmt=fmt
                )
        except (ExportError, ProfileError) as exc:
            self.error = str(exc)
            return None
        self.is_open = False
        if result.background:
            self._watching = [*self._watching, result.export_id]
            return [
                rx.toast.info(
                    f"Exporting {plural(self.count, 'profile')} in the background. You will get a "
                    "notification and an e-mail with the download link when the file is ready.",
                    duration=10_000,
                ),
                ExportDialogState.watch_export(result.export_id),
            ]
        return [
            rx.download(data=file_store.read_bytes(result.path), filename=result.path.name),
            rx.toast.success(f"Exported {plural(result.row_count or 0, 'profile')} to {result.path.name}"),
        ]

    @rx.event(background=True)
    async def watch_export(self, export_id: int) -> Any:
        """While this tab is open, wait for a background export to end; then refresh the
        bell and say so (the notification itself is written by the job)."""
        export_id = int(export_id)
        async with self:
            if export_id not in self._watching:
                return
            token = self._current_token()
        watcher = await in_thread(actor_for_session, token)
        waited, status = 0.0, None
        while watcher is not None and waited < WATCH_LIMIT_SECONDS:
            await asyncio.sleep(WATCH_SECONDS)
            waited += WATCH_SECONDS
            try:
                status = await in_thread(_export_status, watcher, export_id)
            except (PermissionDenied, ExportError):  # signed out, role changed, not theirs: stop
                status = None
            if status in (STATUS_COMPLETED, STATUS_FAILED, None):
                break
        async with self:
            self._watching = [i for i in self._watching if i != export_id]
            token = self._current_token()
        bell = await in_thread(bell_for_session, token)
        if bell is None:
            return
        async with self:
            self._show_bell(bell)
        if status == STATUS_COMPLETED:
            yield rx.toast.success("Your export is ready: open the bell or Exports to download it")
        elif status == STATUS_FAILED:
            yield rx.toast.error("Your export failed: see Exports for the reason")


def _export_status(actor: Any, export_id: int) -> Any:
    with session_scope() as session:
        return export_status(session=session, actor=actor, export_id=export_id)
