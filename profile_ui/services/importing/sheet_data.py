"""What reading a file gives (`SheetData`: every value as text) and how it refuses one
(`FileRejected`); shared by read.py and the readers it uses (read_workbook.py,
read_text.py, read_grid.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from . import sandbox

MAX_CELL_ERRORS_LISTED = sandbox.MAX_ERROR_CELLS_LISTED


@dataclass
class SheetData:
    """One sheet (or pasted block) as text: see the module docstring of importing."""

    file_name: str
    sheet: str | None
    headers: list[str]
    # ROW_COL (Int64, the row number the user sees) + one Utf8 column per header
    frame: pl.DataFrame
    # error cells (#N/A...) read as empty, in data rows: {"row", "column" (the header, or
    # "column H" when the grid's first column is unknown), "message"}; the first
    # MAX_CELL_ERRORS_LISTED in sheet order
    cell_errors: list[dict[str, Any]] = field(default_factory=list)


class FileRejected(Exception):
    """The whole file is refused; nothing from it is used."""

    def __init__(self, file_name: str, reason: str) -> None:
        super().__init__(file_name, reason)
        self.file_name = file_name
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.file_name}: {self.reason}"
