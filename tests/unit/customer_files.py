"""Helpers of the customer-file tests (retention, files at rest): workbooks as bytes and
uploads saved and imported the way the wizard does."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from profile_ui.db import session_scope
from profile_ui.models import ImportJob
from profile_ui.services.importing.jobs import ImportFile, submit_import
from profile_ui.services.permissions import Actor
from profile_ui.services.uploads import save_upload


def xlsx_bytes(tmp_path: Path, rows: list[list[str]], name: str = "book.xlsx") -> bytes:
    """A one-sheet workbook ("People") of text cells."""
    path = tmp_path / name
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("People")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    return path.read_bytes()


def upload(actor: Actor, data: bytes, name: str) -> Path:
    with session_scope() as session:
        return save_upload(session=session, actor=actor, file_name=name, data_chunks=[data])


def submit(actor: Actor, path: Path, name: str, *, dry_run: bool) -> ImportJob:
    with session_scope() as session:
        (job,) = submit_import(
            session=session,
            actor=actor,
            dry_run=dry_run,
            enqueue=False,
            files=[ImportFile(file_name=name, stored_path=path)],
        )
        return job
