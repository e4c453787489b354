"""A parsed grid (every cell a string, as a workbook's child or the CSV parser gives it)
made into `SheetData`: the header row made unique, the rows numbered as the user sees
them, the row limit, the leading ' of the app's own formula guard taken off, and the
error cells listed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from . import ERRORS_COL, ROW_COL, VALID_COL
from .sheet_data import MAX_CELL_ERRORS_LISTED, FileRejected, SheetData


def sheet_from_grid(
    file_name: str,
    sheet: str | None,
    grid: pl.DataFrame,
    *,
    first_row: int,
    has_header: bool,
    max_rows: int,
    too_many: Callable[[int, int], str],
    error_cells: Sequence[dict[str, Any]] = (),
    first_column: int | None = None,
    empty_reason: str = "there is nothing to import",
) -> SheetData:
    """Row numbers, blank rows dropped, headers named and unique, limits checked."""
    columns = list(grid.columns)
    if not columns or grid.height == 0:
        raise FileRejected(file_name, empty_reason)
    # blank cells are already null: calamine's whitespace_as_null, polars' empty_string_is_null
    grid = grid.with_row_index(ROW_COL, offset=first_row).with_columns(pl.col(ROW_COL).cast(pl.Int64))
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in columns])
    grid = grid.filter(~blank)
    if grid.height == 0:
        raise FileRejected(file_name, empty_reason)
    grid = _without_formula_guard(grid, columns)
    if has_header:
        header_row = grid.row(0, named=True)
        raw_headers = [header_row[c] for c in columns]
        data = grid.slice(1)
        if data.height == 0:
            raise FileRejected(file_name, "it has a header row but no data rows below it")
    else:
        raw_headers = [None] * len(columns)
        data = grid
    if data.height > max_rows:
        raise FileRejected(file_name, too_many(data.height, max_rows))
    headers = _unique_headers(raw_headers)
    # a column with neither a header nor a value (e.g. cells cleared to "") is left out
    non_null = data.select(pl.col(columns).count()).row(0)
    keep = [i for i, c in enumerate(columns) if (raw_headers[i] or "").strip() or non_null[i]]
    frame = data.select([pl.col(ROW_COL)] + [pl.col(columns[i]).alias(headers[i]) for i in keep])
    return SheetData(
        file_name=file_name,
        sheet=sheet,
        headers=[headers[i] for i in keep],
        frame=frame,
        cell_errors=_cell_errors(
            error_cells, headers, keep, first_column, set(data[ROW_COL].to_list()) if error_cells else set()
        ),
    )


_GUARDED_FORMULA = r"^'[=+\-@\t\r]"


def _without_formula_guard(grid: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Cells the app's own CSV files neutralized ("'=SUM(...)", services/sheet_writer.py)
    read back as they were, so an error file can be fixed and uploaded again unchanged."""
    guarded = grid.select([pl.col(c).str.contains(_GUARDED_FORMULA).any() for c in columns]).row(0)
    fix = [c for c, has in zip(columns, guarded) if has]
    return grid.with_columns(
        [
            pl.when(pl.col(c).str.contains(_GUARDED_FORMULA)).then(pl.col(c).str.slice(1)).otherwise(pl.col(c)).alias(c)
            for c in fix
        ]
    )


def _unique_headers(raw: list[str | None]) -> list[str]:
    """Trimmed; empty -> "Column N" (1-based position); repeats -> "Email (2)", "Email (3)"."""
    names = [(value or "").strip() or f"Column {i + 1}" for i, value in enumerate(raw)]
    taken = {ROW_COL.casefold(), ERRORS_COL.casefold(), VALID_COL.casefold()}
    first_of: dict[str, int] = {}
    for i, name in enumerate(names):
        if name.casefold() not in taken:
            taken.add(name.casefold())
            first_of[name.casefold()] = i
    result = []
    for i, name in enumerate(names):
        if first_of.get(name.casefold()) == i:
            result.append(name)
            continue
        number = 2
        while f"{name} ({number})".casefold() in taken:
            number += 1
        candidate = f"{name} ({number})"
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_errors(
    cells: Sequence[dict[str, Any]], headers: list[str], keep: list[int], first_column: int | None, data_rows: set[int]
) -> list[dict[str, Any]]:
    kept = set(keep)
    listed = []
    for cell in sorted(cells, key=lambda c: (c["row"], c["column"])):
        if cell["row"] not in data_rows:
            continue  # in the header row (that header is "Column N"), or a row of nothing else
        index = cell["column"] - first_column if first_column else None
        if index is not None and index in kept and index < len(headers):
            column = headers[index]
        else:
            column = f"column {_column_letters(cell['column'])}"
        listed.append(
            {
                "row": cell["row"],
                "column": column,
                "message": f"{cell['value']} (an Excel error value) in cell {cell['ref']} was read as empty",
            }
        )
    return listed[:MAX_CELL_ERRORS_LISTED]
