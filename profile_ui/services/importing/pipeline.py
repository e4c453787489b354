"""The pipelines an import job runs, one per kind of file, and the job's file in and out.

`pipeline_for(kind)` is the `Pipeline` of a kind of file: `prepare` (map and validate,
outside any write transaction), then `plan` (the dry run) or `apply` (inside the one apply
transaction), each in the caller's session; pipeline_profiles.py and pipeline_segments.py
are the two. A membership file's dry run is a profile dry run (its review, membership.py,
applies it). `read_job_file` reads the job's stored upload; `write_error_files` writes the
refused rows with their reasons (.xlsx, and .csv beside it). jobs/import_job.py runs all
this and keeps the claim, the lease and the job's status.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlmodel import Session

from ...models import ImportJob
from ...settings import get_settings
from .. import file_store
from ..permissions import Actor
from . import ImportOptions
from .pipeline_profiles import ProfilePipeline
from .pipeline_segments import SegmentPipeline
from .read import FileRejected, SheetData, read_upload
from .reports import ImportPlan, PreparedFile
from .results import plan_errors, write_error_file


class Pipeline(Protocol):
    def prepare(
        self,
        session: Session,
        job: ImportJob,
        sheet: SheetData,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> PreparedFile: ...

    def plan(
        self,
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: PreparedFile,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> ImportPlan: ...

    def apply(
        self,
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: PreparedFile,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> ImportPlan: ...


_PIPELINES: dict[str, Pipeline] = {
    "profiles": ProfilePipeline(),
    "segments": SegmentPipeline(),
    "membership": ProfilePipeline(),
}


def pipeline_for(kind: str) -> Pipeline | None:
    """The pipeline of this kind of file, None for a kind that cannot be imported (yet)."""
    return _PIPELINES.get(kind)


def read_job_file(job: ImportJob) -> SheetData:
    """The job's stored upload as text (read.read_upload); FileRejected when it is gone."""
    path = job.stored_path or ""
    if not os.path.isfile(path):
        raise FileRejected(job.file_name, "the file was not found")
    return read_upload(path, file_name=job.file_name, sheet=job.sheet)


def write_error_files(job: ImportJob, sheet: SheetData, plan: ImportPlan) -> Path | None:
    """The invalid rows as they came in plus their reasons, as .xlsx and .csv beside it; the
    .xlsx's path (for ImportJob.error_file_path), None when no row was refused."""
    errors = plan_errors(plan)
    if not errors:
        return None
    folder = file_store.private_dir(get_settings().data_dir / "import-results")
    xlsx = write_error_file(sheet, errors, folder / f"import-{job.id}-errors.xlsx", "xlsx")
    write_error_file(sheet, errors, xlsx.with_suffix(".csv"), "csv")
    return xlsx
