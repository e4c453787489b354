"""Steps 1 and 2 of the wizard: the source (the import kind, uploaded files or pasted rows,
a membership file's group) and, for workbooks with several sheets, the sheet. Reading the
files happens in a background event (no state lock held while it works): every file is
read, so one that cannot be imported is named here, not later in its job."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import reflex as rx

from ....db import session_scope
from ....services.importing import dry_run
from ....services.importing.read import FileRejected, list_sheets, read_pasted
from ....services.permissions import PROFILES_IMPORT
from ....services.uploads import UploadError, save_upload
from ....state.base import guarded, in_thread
from ..upload_feedback import UPLOAD_ID
from .base import WizardBase
from .choices import KINDS, STEPS, UploadedFile
from .mapping import Suggestions, read_suggestions

READ_CHUNK = 1024 * 1024
PASTED_FILE_NAME = "pasted rows.tsv"


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


class SourceStep(WizardBase, mixin=True):
    @rx.event
    @guarded
    def set_kind(self, kind: str) -> None:
        self._actor()
        if kind in KINDS:
            self.kind = kind

    @rx.event
    @guarded
    def set_group(self, group_id: str) -> None:
        self._actor()
        if group_id in {c.value for c in self.group_choices}:
            self.group_id = group_id

    @rx.event
    @guarded
    def set_paste_text(self, text: str) -> None:
        self.paste_text = text

    def _add_saved(self, name: str, path: Path) -> None:
        try:
            sheets = list_sheets(path, file_name=name)
        except FileRejected as exc:
            path.unlink(missing_ok=True)
            self.file_errors.append(str(exc))
            return
        self._paths.append(str(path))
        self.files.append(
            UploadedFile(
                name=name, size=_size(path.stat().st_size), sheets=sheets, sheet=sheets[0] if len(sheets) == 1 else ""
            )
        )

    @rx.event
    @guarded
    async def handle_upload(self, files: list[rx.UploadFile]) -> Any:
        actor = self._actor()
        self.file_errors = []
        for upload in files:
            name = Path(upload.name or "upload").name
            try:
                with session_scope() as session:
                    path = save_upload(
                        session=session,
                        actor=actor,
                        file_name=name,
                        data_chunks=iter(functools.partial(upload.file.read, READ_CHUNK), b""),
                    )
            except UploadError as exc:
                self.file_errors.append(str(exc))
                continue
            self._add_saved(name, path)
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    @guarded
    def use_pasted_rows(self) -> None:
        """Pasted cells (with their header row) become a tab-separated file like any upload."""
        actor = self._actor()
        self.file_errors = []
        text = self.paste_text.strip("\n")
        try:
            read_pasted(text, has_header=True)  # PASTE_MAX_ROWS, before anything is saved
        except FileRejected as exc:
            self.file_errors.append(str(exc))
            return
        try:
            with session_scope() as session:
                path = save_upload(
                    session=session, actor=actor, file_name=PASTED_FILE_NAME, data_chunks=[text.encode("utf-8")]
                )
        except UploadError as exc:
            self.file_errors.append(str(exc))
            return
        self._add_saved(PASTED_FILE_NAME, path)
        self.paste_text = ""

    @rx.event
    @guarded
    def remove_file(self, index: int) -> None:
        self._actor()
        self._drop_files([int(index)])

    def _drop_files(self, indexes: list[int]) -> None:
        """Forget these files of the list and delete their saved uploads."""
        drop = {i for i in indexes if 0 <= i < len(self.files)}
        for i in drop:
            Path(self._paths[i]).unlink(missing_ok=True)
        self._paths = [p for i, p in enumerate(self._paths) if i not in drop]
        self.files = [f for i, f in enumerate(self.files) if i not in drop]

    @rx.event
    @guarded
    def pick_sheet(self, index: int, sheet: str) -> None:
        self._actor()
        index = int(index)
        if 0 <= index < len(self.files) and sheet in self.files[index].sheets:
            self.files[index].sheet = sheet
            self.files = list(self.files)

    @rx.event
    @guarded
    def source_next(self) -> Any:
        self._actor()
        self.step_error = ""
        if not self.files:
            self.step_error = "Upload a file or paste rows first"
            return None
        if self.kind == "membership":
            if not self.group_id:
                self.step_error = "Choose the group this member file is for"
                return None
            if len(self.files) > 1:
                self.step_error = "Review one membership file at a time: remove the other files"
                return None
        if any(len(f.sheets) > 1 for f in self.files):
            self.step = "sheet"
            return None
        return type(self).read_first_file

    @rx.event
    @guarded
    def sheet_next(self) -> Any:
        self._actor()
        missing = [f.name for f in self.files if len(f.sheets) > 1 and not f.sheet]
        if missing:
            self.step_error = "; ".join(f"{name} has several sheets: pick the one to import" for name in missing)
            return None
        self.step_error = ""
        return type(self).read_first_file

    @rx.event
    @guarded
    def go_to(self, step: str) -> None:
        self._actor()
        if step in STEPS:
            self.step_error = ""
            self.step = step

    @rx.event(background=True)
    async def read_first_file(self) -> Any:
        """Read every file (in a thread: no database), then suggest the mapping (the database,
        in an event thread); no lock is held meanwhile."""
        actor = await self._background_actor()
        if actor is None or not actor.can(PROFILES_IMPORT):
            return None
        async with self:
            if not self._paths or self.busy:
                return None
            self.busy = "Reading the file…"
            kind = self.kind
            wanted = [(path, item.name, item.sheet or None) for path, item in zip(self._paths, self.files, strict=True)]
        summary: dict[str, Any] = {}
        signatures: list[str] = []
        rejected: dict[str, str] = {}  # private path -> message naming the file and why
        for index, (path, name, sheet) in enumerate(wanted):
            try:
                if index == 0:
                    summary, signature = await asyncio.to_thread(
                        dry_run.summarize_file, path, file_name=name, sheet=sheet
                    )
                else:
                    # later files take the first file's mapping when their columns are the same
                    signature = await asyncio.to_thread(dry_run.file_signature, path, file_name=name, sheet=sheet)
                signatures.append(signature)
            except FileRejected as exc:
                rejected[path] = str(exc)
        suggested: Suggestions | None = None
        while True:
            if not rejected and kind != "segments":
                suggested = await in_thread(read_suggestions, actor, kind, list(summary["headers"]))
            async with self:
                if not rejected and self.kind != kind:  # the kind was changed meanwhile: suggest for it
                    kind = self.kind
                    continue
                self.busy = ""
                if rejected:
                    self.step = "source"
                    self.file_errors = list(rejected.values())
                    self._drop_files([i for i, path in enumerate(self._paths) if path in rejected])
                    return None
                self._summary = summary
                self._signatures = signatures
                self.headers = summary["headers"]
                self._after_reading(suggested)
            return None

    def _after_reading(self, suggested: Suggestions | None) -> None:
        """Segment files go straight to the options; the others to the mapping."""
        if self.kind == "segments":
            self.step = "options"
            return
        if suggested is not None:
            self._show_suggestions(suggested)
        if self.kind == "membership":
            self._ignore_status_column()
        self.step = "map"
