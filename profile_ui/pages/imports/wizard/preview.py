"""Step 6 of the wizard: the dry run and its preview, then confirming the import (or, for a
membership file, going to its review). The dry run is an import job per file
(`submit_import(dry_run=True)`) run by the job runner; a background event waits for it
(services/importing/dry_run.py reads the job rows) and the preview's rows come from the
job's stored row results (RowResultsMixin)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from .... import routes
from ....db import session_scope
from ....services.importing import ImportOptions, dry_run
from ....services.importing import jobs as import_jobs
from ....services.permissions import PROFILES_IMPORT, Actor, PermissionDenied
from ....state.base import actor_for_session, guarded, in_thread
from ....state.row_results import ResultPage, ResultQuery, read_result_page
from .base import WizardBase
from .choices import PreviewTotal

POLL_SECONDS = 0.5
FLAGS_POLL_SECONDS = 1.0
DRY_RUN_WAIT_SECONDS = 600
ERROR_FILE_WAIT_SECONDS = 10


def _wait(actor: Actor, job_ids: list[int]) -> dry_run.DryRunWait:
    with session_scope() as session:
        return dry_run.dry_run_wait(session=session, actor=actor, job_ids=job_ids)


@dataclasses.dataclass(frozen=True)
class DryRunPreview:
    totals: dry_run.DryRunTotals
    rows: ResultPage


def _read_preview(token: str, job_ids: list[int], shown_job: int, query: ResultQuery) -> DryRunPreview | None:
    """The dry run's totals and the shown job's page of rows, read in an event thread; None
    when the session signs no one in or may not see the jobs any more."""
    actor = actor_for_session(token)
    if actor is None:
        return None
    try:
        with session_scope() as session:
            totals = dry_run.dry_run_totals(session=session, actor=actor, job_ids=job_ids, shown_job_id=shown_job)
            return DryRunPreview(totals, read_result_page(session, actor, query))
    except (import_jobs.ImportJobError, PermissionDenied):
        return None


class PreviewStep(WizardBase, mixin=True):
    def _cancel_preview(self, actor: Actor) -> None:
        """A new dry run replaces the last one: its jobs are cancelled, the files stay."""
        if not self.preview_job_ids:
            return
        with session_scope() as session:
            dry_run.cancel_dry_runs(session=session, actor=actor, job_ids=self.preview_job_ids)
        self.preview_job_ids = []

    def _import_files(self, options: ImportOptions) -> list[import_jobs.ImportFile]:
        mapping = None if self.kind == "segments" else self._mapping()
        signatures = list(self._signatures)
        files = []
        for index, (item, path) in enumerate(zip(self.files, self._paths, strict=True)):
            # later files with the same columns take the same mapping; others the suggestions
            same = index == 0 or (index < len(signatures) and signatures[index] == signatures[0])
            files.append(
                import_jobs.ImportFile(
                    file_name=item.name,
                    stored_path=path,
                    sheet=item.sheet or None,
                    mapping=mapping if same else None,
                    options=options,
                )
            )
        return files

    @rx.event
    @guarded
    def start_preview(self) -> Any:
        """Queue the dry run (one job per file, run in order) and watch it in the background."""
        actor = self._actor()
        self.step_error = ""
        self._cancel_preview(actor)
        if self.kind == "segments":
            options = ImportOptions(segment_identifier=self.segment_identifier)
        else:
            options = self._options(self._mapping())
        files = self._import_files(options)
        with session_scope() as session:
            group_id = int(self.group_id) if self.kind == "membership" and self.group_id else None
            try:
                jobs = import_jobs.submit_import(
                    session=session,
                    actor=actor,
                    files=files,
                    kind=self.kind,
                    options=options,
                    dry_run=True,
                    group_id=group_id,
                )
            except import_jobs.ImportJobError as exc:
                self.step_error = str(exc)
                return None
            self.preview_job_ids = [job.id for job in jobs if job.id is not None]
        self.preview_job = self.preview_job_ids[0]
        self.preview_totals = []
        self._reset_results()
        self.step = "preview"
        return type(self).watch_preview

    @rx.event(background=True)
    async def watch_preview(self) -> Any:
        """Wait for the dry run (its jobs are read in an event thread, no lock held), then
        show its totals and first rows."""
        actor = await self._background_actor()
        if actor is None or not actor.can(PROFILES_IMPORT):
            return None
        async with self:
            if self.busy:
                return None
            job_ids = list(self.preview_job_ids)
            self.busy = shown = "Checking every row (dry run)…"
        while True:
            waited = 0.0
            while waited < DRY_RUN_WAIT_SECONDS:
                wait = await in_thread(_wait, actor, job_ids)
                if wait.done:
                    break
                if wait.progress and wait.progress != shown:
                    async with self:
                        self.busy = shown = wait.progress
                await asyncio.sleep(POLL_SECONDS)
                waited += POLL_SECONDS
            # the error file is written just after the dry run commits: give it a moment
            for _ in range(int(ERROR_FILE_WAIT_SECONDS / POLL_SECONDS)):
                if not (await in_thread(_wait, actor, job_ids)).error_files_pending:
                    break
                await asyncio.sleep(POLL_SECONDS)
            async with self:
                if self.preview_job_ids and list(self.preview_job_ids) != job_ids:
                    # a newer dry run replaced this one while it ran (its own watcher found
                    # this one busy and left): watch the newer one instead
                    job_ids = list(self.preview_job_ids)
                    continue
                token, shown_job, query = self._current_token(), self.preview_job, self._result_query()
            preview = await in_thread(_read_preview, token, job_ids, shown_job, query)
            async with self:
                if self.preview_job_ids and list(self.preview_job_ids) != job_ids:
                    job_ids = list(self.preview_job_ids)  # replaced while it was read
                    continue
                self.busy = ""
                if preview is None or list(self.preview_job_ids) != job_ids or self.preview_job != shown_job:
                    return None
                self._show_preview(preview, query)
            if preview.totals.checking:  # the look-alike flags fill in after the preview shows
                await self._watch_flags(job_ids, shown_job)
            return None

    async def _watch_flags(self, job_ids: list[int], shown_job: int) -> None:
        """Poll until no file of the dry run is checking for possible duplicates any more,
        then show its totals and rows again (with their flags), unless the viewer moved on."""
        waited = 0.0
        while waited < DRY_RUN_WAIT_SECONDS:
            await asyncio.sleep(FLAGS_POLL_SECONDS)
            waited += FLAGS_POLL_SECONDS
            async with self:
                if list(self.preview_job_ids) != job_ids or self.preview_job != shown_job or self.step != "preview":
                    return
                token, query = self._current_token(), self._result_query()
            preview = await in_thread(_read_preview, token, job_ids, shown_job, query)
            if preview is None:
                return
            if preview.totals.checking:
                continue
            async with self:
                if list(self.preview_job_ids) != job_ids or self.preview_job != shown_job:
                    return
                self._show_preview(preview, query)
            return

    def _show_preview(self, preview: DryRunPreview, query: ResultQuery) -> None:
        """The dry run's totals and (unless the viewer loaded its own page since) its rows."""
        self.preview_totals = [PreviewTotal(file=name, text=text) for name, text in preview.totals.lines]
        self.preview_has_errors = preview.totals.has_error_file
        if self._result_query() == query:  # else the viewer loaded its own page
            self._show_result_page(preview.rows)

    @rx.event
    @guarded
    def back_to_mapping(self) -> None:
        actor = self._actor()
        self._cancel_preview(actor)
        self.step = "options" if self.kind == "segments" else "map"

    @rx.event
    @guarded
    def confirm(self) -> Any:
        actor = self._actor()
        if self.busy or not self.preview_totals:
            # a hand-sent or early click: the results on screen are not the dry run's yet
            return rx.toast.info("The dry run is still checking the file: confirm when its results are shown")
        if self.kind == "membership":
            return self._to_review(actor)
        with session_scope() as session:
            confirmed = dry_run.confirm_dry_runs(session=session, actor=actor, job_ids=self.preview_job_ids)
        if not confirmed:
            return rx.toast.error("Nothing to import: every file was refused")
        self._paths, self.preview_job_ids = [], []
        return [
            rx.toast.success(f"Import queued ({len(confirmed)} file{'s' if len(confirmed) > 1 else ''})"),
            rx.redirect(import_jobs.report_link(confirmed[0])),
        ]

    def _to_review(self, actor: Actor) -> Any:
        """A membership file is not applied: its review page proposes what to change."""
        with session_scope() as session:
            refusal = dry_run.membership_review_refusal(session=session, actor=actor, job_id=self.preview_job)
        if refusal:
            return rx.toast.error(refusal)
        job_id = self.preview_job
        self._paths, self.preview_job_ids = [], []
        return rx.redirect(routes.import_review_url(job_id))
