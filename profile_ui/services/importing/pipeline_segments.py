"""The pipeline of a segment file: its columns (User ID, Segment Name, Segment Value), then
plan (the dry run) or apply, both in segments_apply.py.

`prepare` takes the job's mapping (an "auto" one is the standard headers, with any forced
id column in place of User ID) and builds the segment frame; each step works in the
caller's session; jobs/import_job.py runs them through pipeline.pipeline_for.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from ...models import ImportJob
from ...settings import get_settings
from ..permissions import Actor
from . import ImportMapping, ImportOptions
from .jobs import AUTO_MAPPING_KEY, job_mapping
from .read import SheetData
from .reports import ImportPlan, PreparedFile
from .segments_apply import DEFAULT_HEADERS, apply_segments, plan_segments, segment_frame


class SegmentPipeline:
    def prepare(
        self,
        session: Session,
        job: ImportJob,
        sheet: SheetData,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> PreparedFile:
        mapping = segment_mapping(job, sheet)
        frame, headers = segment_frame(
            sheet.frame, mapping, options, default_region=get_settings().default_phone_region
        )
        return PreparedFile(mapping or ImportMapping(columns={}), frame, headers)

    def plan(
        self,
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: PreparedFile,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> ImportPlan:
        return plan_segments(
            session=session,
            actor=actor,
            frame=prepared.frame,
            options=options,
            file_name=job.file_name,
            headers=prepared.headers,
        )

    def apply(
        self,
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: PreparedFile,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> ImportPlan:
        return apply_segments(
            session=session,
            actor=actor,
            job=job,
            frame=prepared.frame,
            options=options,
            headers=prepared.headers,
            progress=progress,
        )


def segment_mapping(job: ImportJob, sheet: SheetData) -> ImportMapping | None:
    """The user's mapping; an "auto" one is the standard headers (User ID, Segment Name,
    Segment Value) with any forced id column in place of User ID."""
    mapping = job_mapping(job)
    if not (job.mapping or {}).get(AUTO_MAPPING_KEY):
        return mapping
    columns: dict[str, str | None] = {h: t for h, t in mapping.columns.items() if t}
    if not columns:
        return None  # segment_frame recognises the standard headers itself
    for header in sheet.headers:
        target = DEFAULT_HEADERS.get(" ".join(header.lower().split()))
        if target and header not in columns:
            columns[header] = target
    return ImportMapping(columns=columns)
