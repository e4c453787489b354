"""/imports/new: upload files into the private upload folder (the import wizard that
reads them is built by the import issue; until then this page lists what was saved)."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from .. import routes
from ..components.shell import shell
from ..services.uploads import ALLOWED_SUFFIXES, UploadError, save_upload
from ..settings import get_settings
from ..state.base import AppState, guarded

TITLE = "New import"
UPLOAD_ID = "import_upload"
_READ_CHUNK = 1024 * 1024


@dataclasses.dataclass
class SavedFile:
    name: str
    size: str


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


class ImportUploadState(AppState):
    saved_files: list[SavedFile] = []

    @rx.event
    @guarded
    def on_load(self) -> None:
        self.saved_files = []
        self._enter_page(routes.IMPORT_NEW)

    @rx.event
    @guarded
    async def handle_upload(self, files: list[rx.UploadFile]) -> Any:
        actor = self._require_actor()
        refused: list[str] = []
        for upload in files:
            name = upload.name or "upload"
            try:
                path = save_upload(
                    actor=actor, file_name=name,
                    data_chunks=iter(lambda f=upload.file: f.read(_READ_CHUNK), b""))
            except UploadError as exc:
                refused.append(str(exc))
                continue
            self.saved_files.append(SavedFile(name=name, size=_size(path.stat().st_size)))
        events: list[Any] = [rx.clear_selected_files(UPLOAD_ID)]
        events += [rx.toast.error(message) for message in refused]
        return events


def _accept() -> dict[str, list[str]]:
    return {
        "text/csv": [".csv"],
        "text/tab-separated-values": [".tsv"],
        "text/plain": [".txt"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
        "application/vnd.ms-excel": [".xls"],
    }


def _saved_row(item: SavedFile) -> rx.Component:
    return rx.el.li(rx.hstack(rx.icon("file_check", size=16, aria_hidden="true"),
                              rx.text(item.name, weight="medium"),
                              rx.text(item.size, color_scheme="gray"), align="center"))


def content() -> rx.Component:
    limit_mb = get_settings().upload_max_bytes / (1024 * 1024)
    return rx.vstack(
        rx.text(f"Upload a spreadsheet ({', '.join(ALLOWED_SUFFIXES)}) of up to "
                f"{limit_mb:.0f} MB. Files are kept privately on the server."),
        rx.upload(
            rx.vstack(
                rx.button("Choose files", type="button", variant="soft"),
                rx.text("or drag them here", color_scheme="gray", size="2"),
                align="center",
            ),
            id=UPLOAD_ID,
            multiple=True,
            accept=_accept(),
            max_size=get_settings().upload_max_bytes,
            border=f"2px dashed {rx.color('gray', 6)}",
            border_radius="12px",
            padding="2em",
            width="100%",
        ),
        rx.el.ul(rx.foreach(rx.selected_files(UPLOAD_ID),
                            lambda name: rx.el.li(rx.text(name))),
                 aria_label="Chosen files"),
        rx.button("Upload", on_click=ImportUploadState.handle_upload(
            rx.upload_files(upload_id=UPLOAD_ID))),
        rx.cond(
            ImportUploadState.saved_files.length() > 0,
            rx.vstack(
                rx.heading("Saved files", size="4", as_="h2"),
                rx.el.ul(rx.foreach(ImportUploadState.saved_files, _saved_row),
                         aria_label="Saved files"),
            ),
        ),
        spacing="4",
        width="100%",
        max_width="720px",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.IMPORT_NEW, title=TITLE)
