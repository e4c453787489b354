"""The import wizard's dry run as the page needs it: what the uploaded files hold (their
headers, samples and distinct values; their header signatures), how the dry run's jobs are
doing while the page waits, their totals once done, and replacing or confirming them.

The jobs themselves are submitted, cancelled and confirmed by `jobs.py` (which checks who
may); this module only reads their rows and words the answers, so the wizard's state stays
one call per step. Reading a file raises `read.FileRejected` with a message naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from ..permissions import Actor
from . import jobs as import_jobs
from . import possible_duplicates
from .mapping import headers_signature
from .progress import read_progress
from .read import read_upload
from .values import file_summary


def summarize_file(path: str, *, file_name: str, sheet: str | None) -> tuple[dict[str, Any], str]:
    """The first file's summary (`values.file_summary`: headers, samples, distinct values;
    what the map and values steps show) and its header signature. Reads the whole file:
    run it off the event loop."""
    sheet_data = read_upload(path, file_name=file_name, sheet=sheet)
    summary = file_summary(sheet_data)
    return summary, headers_signature(summary["headers"])


def file_signature(path: str, *, file_name: str, sheet: str | None) -> str:
    """A later file's header signature: the same as the first's means the same mapping."""
    return headers_signature(read_upload(path, file_name=file_name, sheet=sheet).headers)


@dataclass
class DryRunWait:
    """Where the dry run of a batch of files stands, for the page that waits on it."""

    done: bool  # no job is queued or checking rows any more
    progress: str = ""  # the running job's stage and rows ("File 2 of 3 · Dry run: 75 of 300 rows")
    error_files_pending: bool = False  # a finished job with invalid rows whose error file is not recorded yet


def dry_run_wait(*, session: Session, actor: Actor, job_ids: Sequence[int]) -> DryRunWait:
    jobs = [import_jobs.get_import(session=session, actor=actor, job_id=job_id) for job_id in job_ids]
    if any(job.status in (import_jobs.QUEUED, import_jobs.VALIDATING) for job in jobs):
        return DryRunWait(done=False, progress=_progress(jobs))
    pending = any(
        job.status == import_jobs.AWAITING_CONFIRMATION
        and (job.counts or {}).get("invalid")
        and not job.error_file_path
        for job in jobs
    )
    return DryRunWait(done=True, error_files_pending=pending)


def _progress(jobs: Sequence[Any]) -> str:
    for number, job in enumerate(jobs, start=1):
        if job.status == import_jobs.VALIDATING and (live := read_progress(job.id)) is not None:
            return (f"File {number} of {len(jobs)} · " if len(jobs) > 1 else "") + live.text()
    return ""


@dataclass
class DryRunTotals:
    """Each file's line of totals (or why it was refused), and whether `shown_job_id` has
    an error file."""

    lines: list[tuple[str, str]] = field(default_factory=list)  # (file name, text)
    has_error_file: bool = False
    checking: bool = False  # a file's look-alike flags are still being filled in


def dry_run_totals(*, session: Session, actor: Actor, job_ids: Sequence[int], shown_job_id: int) -> DryRunTotals:
    totals = DryRunTotals()
    for job_id in job_ids:
        job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
        if job.status == import_jobs.FAILED:
            text = f"Refused: {job.error}"
        elif job.status == import_jobs.CANCELLED:
            text = "Cancelled"
        else:
            text = import_jobs.totals_text(job.counts) + possible_duplicates.counts_note(job.counts)
            totals.checking = totals.checking or possible_duplicates.is_checking(job.counts)
        totals.lines.append((job.file_name, text))
        if job_id == shown_job_id:
            totals.has_error_file = bool(job.error_file_path)
    return totals


def cancel_dry_runs(*, session: Session, actor: Actor, job_ids: Sequence[int]) -> None:
    """A new dry run replaces the last one: its jobs that have not ended are cancelled."""
    for job_id in job_ids:
        try:
            import_jobs.cancel_import(session=session, actor=actor, job_id=job_id)
        except import_jobs.ImportJobError:
            pass  # it has ended already: nothing to stop


def confirm_dry_runs(*, session: Session, actor: Actor, job_ids: Sequence[int]) -> list[int]:
    """Confirm every file of the batch whose dry run awaits it (refused ones stay); the ids
    confirmed, in order."""
    confirmed = []
    for job_id in job_ids:
        job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
        if job.status == import_jobs.AWAITING_CONFIRMATION:
            import_jobs.confirm_import(session=session, actor=actor, job_id=job_id)
            confirmed.append(job_id)
    return confirmed


def membership_review_refusal(*, session: Session, actor: Actor, job_id: int) -> str:
    """Why a membership file's dry run cannot go to its review ("" when it can)."""
    job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
    if job.status == import_jobs.AWAITING_CONFIRMATION:
        return ""
    return f"{job.file_name} cannot be reviewed: {job.error or job.status.replace('_', ' ')}"
