"""An import's per-row results, its totals, and the error file a marketer fixes and re-uploads.

Row results live in import_row_results (written in bulk by apply_import, or by
`store_row_results` for a dry run's preview). `changes` is {field: [before, after]} plus
bookkeeping keys starting with "@" (see plan.py); `field_changes` keeps only the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import ImportJob, ImportRowResult
from .. import file_store
from ..bulk_writer import BulkWriter
from ..permissions import PROFILES_IMPORT, Actor
from ..sheet_writer import write_table
from . import ROW_COL, possible_duplicates
from .reports import OUTCOMES, ImportPlan

REASONS_HEADER = "Reasons"
# the first column of the error file: the row's number in the user's spreadsheet (header = 1)
ROW_NUMBER_HEADER = "Row"
ERROR_FILE_FORMATS = ("xlsx", "csv")


class SheetLike(Protocol):
    """What write_error_file needs of read.SheetData: the headers and the text frame."""

    headers: list[str]
    frame: pl.DataFrame


class ResultsError(ValueError):
    """The asked-for results do not exist or cannot be written; the message says why."""


# ---------------------------------------------------------------- reading stored results
def _job(session: Session, actor: Actor, job_id: int) -> ImportJob:
    actor.require(PROFILES_IMPORT)
    job = session.get(ImportJob, job_id)
    if job is None:
        raise ResultsError(f"import {job_id} does not exist")
    return job


def row_results(
    *,
    session: Session,
    actor: Actor,
    job_id: int,
    outcome: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows in spreadsheet order (optionally one outcome), and how many match."""
    _job(session, actor, job_id)
    if outcome is not None and outcome not in OUTCOMES:
        raise ResultsError(f"unknown outcome '{outcome}' (expected one of {', '.join(OUTCOMES)})")
    r = ImportRowResult
    where = [r.job_id == job_id] + ([r.outcome == outcome] if outcome else [])
    conn = session.connection()
    total = conn.execute(sa.select(sa.func.count()).select_from(r).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(r.row_number, r.outcome, r.profile_id, r.errors, r.changes)
        .where(*where)
        .order_by(r.row_number)
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        {"row_number": n, "outcome": o, "profile_id": p, "errors": e or [], "changes": c or {}}
        for n, o, p, e, c in rows
    ], total


def totals(*, session: Session, actor: Actor, job_id: int) -> dict[str, int]:
    """The job's counts, with the stored rows counted per outcome (`rows_<outcome>`)."""
    job = _job(session, actor, job_id)
    r = ImportRowResult
    by_outcome = dict(
        session.connection()
        .execute(sa.select(r.outcome, sa.func.count()).where(r.job_id == job_id).group_by(r.outcome))
        .all()
    )
    result = {k: v for k, v in (job.counts or {}).items() if isinstance(v, int)}
    result.update({f"rows_{o}": int(by_outcome.get(o, 0)) for o in OUTCOMES})
    result.setdefault("rows", sum(by_outcome.values()))
    return result


def field_changes(changes: Mapping[str, Any]) -> dict[str, list]:
    """The {field: [before, after]} part of a row's changes (no "@" bookkeeping)."""
    return {k: v for k, v in changes.items() if not k.startswith("@")}


def stored_errors(*, session: Session, actor: Actor, job_id: int) -> dict[int, list[dict[str, str]]]:
    """Row number -> reasons, for every invalid row of a job (the error file's input)."""
    _job(session, actor, job_id)
    r = ImportRowResult
    rows = (
        session.connection()
        .execute(
            sa.select(r.row_number, r.errors).where(r.job_id == job_id, r.outcome == "invalid").order_by(r.row_number)
        )
        .all()
    )
    return {n: list(e or []) for n, e in rows}


# ---------------------------------------------------------------- writing results
def store_row_results(*, session: Session, job_id: int, plan: ImportPlan) -> None:
    """Keep a dry run's per-row outcome with its job (replacing any earlier preview), so the
    report and the error file can be read before the user confirms. Profiles are untouched."""
    session.execute(sa.delete(ImportRowResult).where(ImportRowResult.job_id == job_id))
    BulkWriter(session).insert(
        "import_row_results",
        plan.rows.select(
            job_id=pl.lit(job_id, dtype=pl.Int64),
            row_number=pl.col(ROW_COL),
            outcome="outcome",
            profile_id="profile_id",
            errors="errors",
            changes="changes",
        ),
    )
    # the dry run's possible-duplicate check, for the apply to reuse
    possible_duplicates.keep_dry_run_check(session=session, job_id=job_id, check=plan._dedupe)


def plan_errors(plan: ImportPlan) -> dict[int, list[dict[str, str]]]:
    """Row number -> reasons for the plan's invalid rows."""
    invalid = plan.rows.filter(pl.col("outcome") == "invalid").select(ROW_COL, "errors")
    return {n: json.loads(e) for n, e in invalid.iter_rows()}


def reasons_text(errors: Sequence[Mapping[str, Any] | str]) -> str:
    """One cell: "Email: not a valid address; Phone: ..." in the order the checks found them."""
    parts = []
    for error in errors:
        if isinstance(error, str):
            parts.append(error)
            continue
        column, message = error.get("column") or "", error.get("message") or ""
        parts.append(f"{column}: {message}" if column else message)
    return "; ".join(p for p in parts if p)


def write_error_file(
    frame_as_read: SheetLike,
    errors: Mapping[int, Sequence[Mapping[str, Any] | str]] | pl.DataFrame,
    path: str | Path,
    fmt: str = "xlsx",
) -> Path:
    """The invalid rows exactly as they came in (the file's own headers and text), after a
    first "Row" column (the row's number in the spreadsheet, so each can be found in the
    original) and before a "Reasons" column, as .xlsx or .csv; in the CSV a header or cell
    that a spreadsheet would run as a formula gets a leading ' (services/sheet_writer.py).
    `errors`: row number -> reasons, or a frame with ROW_COL and "errors" (JSON text or a
    list). Written as a private file, encrypted when encryption is configured
    (services/file_store.py; read it with file_store.read_bytes). Returns the path."""
    if fmt not in ERROR_FILE_FORMATS:
        raise ResultsError(f"unknown error file format '{fmt}' (expected xlsx or csv)")
    reasons = _reasons_frame(errors)
    headers = list(frame_as_read.headers)
    data = frame_as_read.frame.join(reasons, on=ROW_COL, how="inner").sort(ROW_COL)
    header_row = [_free_header(ROW_NUMBER_HEADER, headers), *headers, _free_header(REASONS_HEADER, headers)]
    out = data.select(
        [pl.col(ROW_COL).cast(pl.Utf8)] + [pl.col(h).cast(pl.Utf8) for h in headers] + [pl.col("__reasons__")]
    )
    # the app's one CSV/xlsx writer (formula-like headers and cells never run in a
    # spreadsheet) into a private, maybe encrypted file
    path = Path(path)
    write_table(
        file_store.open_private(path),
        header_row,
        out,
        fmt,
        sheet_name="Invalid rows",
        widths=[8] + [18] * len(headers) + [60],
        number_columns=[0],
    )
    return path


def _reasons_frame(errors: Mapping[int, Sequence[Any]] | pl.DataFrame) -> pl.DataFrame:
    if isinstance(errors, pl.DataFrame):
        items = []
        for row_number, value in errors.select(ROW_COL, "errors").iter_rows():
            items.append((row_number, json.loads(value) if isinstance(value, str) else list(value or [])))
    else:
        items = list(errors.items())
    return pl.DataFrame(
        {ROW_COL: [n for n, _ in items], "__reasons__": [reasons_text(e) for _, e in items]},
        schema={ROW_COL: pl.Int64, "__reasons__": pl.Utf8},
    )


def _free_header(base: str, headers: list[str]) -> str:
    """`base`, or "Reasons (2)"... when the file has a column of that name already."""
    name, n = base, 2
    while name in headers:
        name, n = f"{base} ({n})", n + 1
    return name
