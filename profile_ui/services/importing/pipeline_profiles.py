"""The pipeline of a profile file (and of a membership file's dry run): map, validate, then
plan (the dry run) or apply.

`prepare` takes the job's mapping (an "auto" one is the column suggestions plus the forced
identifier columns) and validates the sheet into the validated frame (see the package
docstring); `plan` is plan.plan_import and `apply` is apply.apply_import, both with the
active sync rule. Each step works in the caller's session; jobs/import_job.py runs them
through pipeline.pipeline_for.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlmodel import Session

from ...models import ImportJob
from ...settings import get_settings
from ..catalog import active_sync_rule, field_definitions, identity_kinds
from ..permissions import Actor
from . import ImportMapping, ImportOptions
from . import mapping as mapping_stage
from .apply import apply_import
from .jobs import AUTO_MAPPING_KEY, job_mapping
from .plan import plan_import
from .read import SheetData
from .reports import ImportPlan, PreparedFile
from .validate import validate_rows


class ProfilePipeline:
    def prepare(
        self,
        session: Session,
        job: ImportJob,
        sheet: SheetData,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> PreparedFile:
        mapping = resolve_mapping(session, job, sheet)
        progress(sheet.frame.height // 4)
        return PreparedFile(mapping, validated_frame(session, sheet, mapping), {})

    def plan(
        self,
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: PreparedFile,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> ImportPlan:
        return plan_import(
            session=session,
            actor=actor,
            frame=prepared.frame,
            mapping=prepared.mapping,
            options=options,
            sync_rule=active_sync_rule(session),
            file_name=job.file_name,
            progress=progress,
            look_alikes_later=True,  # the preview shows first; a worker fills its flags in
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
        return apply_import(
            session=session,
            actor=actor,
            job=job,
            frame=prepared.frame,
            mapping=prepared.mapping,
            options=options,
            sync_rule=active_sync_rule(session),
            progress=progress,
        )


def resolve_mapping(session: Session, job: ImportJob, sheet: SheetData) -> ImportMapping:
    """The job's mapping; an "auto" one is the column suggestions plus the forced identifiers."""
    mapping = job_mapping(job)
    if not (job.mapping or {}).get(AUTO_MAPPING_KEY):
        return mapping
    suggestions = mapping_stage.suggest_mapping(
        sheet.headers,
        fields=list(field_definitions(session).values()),
        identity_kinds=list(identity_kinds(session).values()),
    )
    suggested = mapping_stage.suggested_mapping(suggestions)
    forced = {header: target for header, target in mapping.columns.items() if target}
    if forced:  # a forced identity column wins over a suggestion of the same target
        suggested.columns = {h: (None if t in forced.values() else t) for h, t in suggested.columns.items()}
    suggested.columns.update(forced)
    suggested.identifiers = list(mapping.identifiers)
    return suggested


def validated_frame(session: Session, sheet: SheetData, mapping: ImportMapping) -> pl.DataFrame:
    """The sheet validated against the workspace's field definitions (validate.validate_rows)."""
    return validate_rows(
        sheet, mapping, fields=field_definitions(session), default_region=get_settings().default_phone_region
    )
