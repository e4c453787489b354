"""/imports/[import_id]: one import's settings, live progress, per-row outcomes, error file
and undo. Progress is read from the job row by a background event (every tab that shows
the page polls the same row, so a reload or a second tab shows the same), in an event
thread with no lock on the tab's state (`poll_job`): the state is locked only to show what
changed."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from ... import routes
from ...components.dialogs import confirm_dialog
from ...components.row_results import error_file_button, outcome_select, row_results_table
from ...components.shell import shell
from ...db import session_scope
from ...models import utcnow
from ...services import retention
from ...services.importing import jobs as import_jobs
from ...services.importing import possible_duplicates
from ...services.importing.progress import read_progress
from ...services.importing.undo import ImportUndoError, undo_import
from ...services.permissions import PROFILES_IMPORT, Actor
from ...services.users import user_emails
from ...state.base import AppState, Bell, actor_for_session, guarded, in_thread, read_bell
from ...state.row_results import ResultPage, ResultQuery, RowResultsMixin, read_result_page
from .history import duration_text, status_text, totals_text

TITLE = "Import"
POLL_SECONDS = 1.0
WATCH_LIMIT_SECONDS = 3600


@dataclasses.dataclass(frozen=True)
class DetailView:
    """What the page shows of one job, read in one transaction (`read_detail`). Its field
    names are the state's vars."""

    missing: str = ""  # the job is not there (or not the actor's to see): why
    file: str = ""
    kind: str = ""
    raw_status: str = ""
    status: str = ""
    who: str = ""
    created: str = ""
    duration: str = ""
    totals: str = ""
    error: str = ""
    rows_done: int = 0
    rows_total: int = 0
    progress_text: str = ""  # "Applying changes: 12,500 of 50,000 rows" while it runs
    eta: str = ""
    error_file_note: str = ""
    invalid_rows: int = 0
    has_error_file: bool = False
    can_undo: bool = False
    can_cancel: bool = False
    can_confirm: bool = False
    settings_text: str = ""
    # applied, its possible-duplicate check still running (the watcher waits for its count)
    checking_duplicates: bool = False


def read_detail(actor: Actor, job_id: int) -> DetailView:
    """The page's view of the job (the job row, its creator's e-mail, the running stage's
    progress file). Touches no state: the watcher calls it with `in_thread`, no lock held."""
    with session_scope() as session:
        try:
            job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
        except import_jobs.ImportJobError as exc:
            return DetailView(missing=str(exc))
        who = user_emails(session=session, actor=actor, user_ids={job.created_by or 0}).get(
            job.created_by or 0, "system"
        )
    rows_done, rows_total = job.rows_done or 0, job.rows_total or 0
    progress_text = f"{rows_done:,} of {rows_total:,} rows" if rows_total else ""
    live = read_progress(job.id) if job.status in (import_jobs.VALIDATING, import_jobs.RUNNING) else None
    if live is not None:  # the running stage's own count (the row commits only at the end)
        rows_done, rows_total = live.rows_done, live.rows_total or rows_total
        progress_text = live.text()
    # changing an import or taking its error file: its owner or an admin (services check it)
    mine = import_jobs.may_manage(actor, job)
    return DetailView(
        file=job.file_name,
        kind=job.kind,
        raw_status=job.status,
        status=status_text(job),
        who=who,
        created=job.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        duration=duration_text(job.started_at, job.finished_at),
        totals=totals_text(job.counts),
        error=job.error or "",
        rows_done=rows_done,
        rows_total=rows_total,
        progress_text=progress_text,
        eta=eta_text(job) if live is None else "",
        error_file_note=retention.error_file_note(job),
        invalid_rows=import_jobs.report_counts(job.counts)["invalid"],
        has_error_file=mine and retention.error_file_available(job),
        can_undo=mine and job.status == import_jobs.COMPLETED,
        can_cancel=mine and job.status in (import_jobs.QUEUED, import_jobs.AWAITING_CONFIRMATION),
        # a membership file is not confirmed: its review page applies it (S.kind links there)
        can_confirm=mine and job.status == import_jobs.AWAITING_CONFIRMATION and job.kind != "membership",
        settings_text=settings_text(job),
        checking_duplicates=possible_duplicates.is_checking(job.counts),
    )


def settings_text(job: Any) -> str:
    """The job's mapping and options in one line."""
    options = import_jobs.job_options(job)
    mapping = import_jobs.job_mapping(job)
    mapped = ", ".join(f"{h} → {t}" for h, t in mapping.columns.items() if t)
    parts = [f"Mapping: {mapped}" if mapped else "Mapping: suggested columns"]
    if options.consent:
        parts.append("Consent: " + ", ".join(f"{c} {v}" for c, v in options.consent.items()))
    if options.field_policies:
        parts.append("Policies: " + ", ".join(f"{f} {p}" for f, p in options.field_policies.items()))
    if options.tag_ids:
        parts.append(f"Tags for every row: {len(options.tag_ids)}")
    parts.append(f"Tags column: {options.tags_mode}")
    parts.append(
        "Look-alikes of existing profiles: "
        + ("created anyway" if options.possible_duplicates == "create" else "sent to review")
    )
    return " · ".join(parts)


def eta_text(job: Any) -> str:
    if job.status not in (import_jobs.RUNNING, import_jobs.VALIDATING) or not job.started_at:
        return ""
    done, total = job.rows_done or 0, job.rows_total or 0
    if not done or not total or done >= total:
        return "estimating…"
    elapsed = (utcnow() - job.started_at).total_seconds()
    return f"about {int(elapsed * (total - done) / done)} s left"


@dataclasses.dataclass(frozen=True)
class Poll:
    """One look at the job by the watcher: the view and, when its status moved on from the
    one the watcher last showed, the page of row results and the bell as well."""

    view: DetailView
    rows: ResultPage | None = None
    bell: Bell | None = None


def poll_job(actor: Actor, job_id: int, shown: tuple[str, bool], query: ResultQuery) -> Poll:
    """The watcher's look at the job, in an event thread (no state touched); `shown`: the
    status and whether its possible-duplicate check was running, as the page shows them."""
    view = read_detail(actor, job_id)
    if view.missing or (view.raw_status, view.checking_duplicates) == shown:
        return Poll(view)
    return Poll(view, _read_rows(actor, query), read_bell(actor))


def _read_rows(actor: Actor, query: ResultQuery) -> ResultPage:
    with session_scope() as session:
        return read_result_page(session, actor, query)


class ImportDetailState(RowResultsMixin, AppState):
    shown_id: int = 0
    file: str = ""
    kind: str = ""
    status: str = ""
    raw_status: str = ""
    who: str = ""
    created: str = ""
    duration: str = ""
    totals: str = ""
    error: str = ""
    settings_text: str = ""
    checking_duplicates: bool = False
    rows_done: int = 0
    rows_total: int = 0
    progress_text: str = ""  # "Applying changes: 12,500 of 50,000 rows" while it runs
    eta: str = ""
    has_error_file: bool = False
    error_file_note: str = ""
    invalid_rows: int = 0
    can_undo: bool = False
    can_cancel: bool = False
    can_confirm: bool = False
    undo_open: bool = False
    undo_result: str = ""
    missing: str = ""

    _watching: int = 0  # the job this tab's watcher polls (0: none)

    @rx.var
    def progress(self) -> int:
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    def _results_job_id(self) -> int:
        return self.shown_id

    def _read_id(self) -> int:
        raw = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        return int(raw) if raw.isdigit() else 0

    def _refresh(self, actor: Actor, with_rows: bool = True) -> None:
        self._show_detail(read_detail(actor, self.shown_id))
        if with_rows and not self.missing:
            with session_scope() as session:
                self._load_result_rows(session, actor)

    def _show_detail(self, view: DetailView) -> None:
        self.missing = view.missing
        if view.missing:
            return
        for field in dataclasses.fields(DetailView):
            setattr(self, field.name, getattr(view, field.name))

    @rx.event
    @guarded
    def on_load(self) -> Any:
        self.undo_result, self.undo_open = "", False
        self._reset_results()
        actor = self._enter_page(routes.IMPORT_DETAIL)
        if actor is None:
            return None
        self.shown_id = self._read_id()
        self._refresh(actor)
        return ImportDetailState.watch

    @rx.event(background=True)
    async def watch(self) -> Any:
        """Poll the job until it ends and show what changed; toast when it ends while shown.
        Each look at the job runs in an event thread with no lock held (`poll_job`); the
        tab's state is locked only when there is something new to show."""
        async with self:
            ended = self.raw_status in import_jobs.FINAL_STATUSES and not self.checking_duplicates
            # a job that ended just before this page read it may not have recorded its error
            # file yet (the job writes it right after its commit): watched for that alone
            error_file_due = ended and self.invalid_rows > 0 and self.error_file_note == ""
            if self._watching == self.shown_id or (ended and not error_file_due):
                return
            token, job_id, query = self._current_token(), self.shown_id, self._result_query()
        actor = await in_thread(actor_for_session, token)
        if actor is None or not actor.can(PROFILES_IMPORT):
            return
        async with self:
            if self._watching == job_id or self.shown_id != job_id:
                return
            # a watcher of the job shown before (another import) stops at its next change
            self._watching = job_id
            shown = (self.raw_status, self.checking_duplicates)
        waited = 0.0
        message: Any = None
        last: DetailView | None = None
        try:
            if ended:  # only the error file is awaited: shown if it is there, else looked for below
                last = await in_thread(read_detail, actor, job_id)
                async with self:
                    if self.shown_id == job_id:
                        self._show_detail(last)
            while not ended and waited < WATCH_LIMIT_SECONDS:
                await asyncio.sleep(POLL_SECONDS)
                waited += POLL_SECONDS
                poll = await in_thread(poll_job, actor, job_id, shown, query)
                if poll.view == last:
                    continue  # nothing new: the state is not locked
                last, with_rows = poll.view, False
                async with self:
                    if self.shown_id != job_id or self._watching != job_id:
                        return
                    before = (self.raw_status, self.checking_duplicates)
                    self._show_detail(poll.view)
                    # (a job gone from view leaves it as it was)
                    after = (self.raw_status, self.checking_duplicates)
                    if after != before and poll.rows is not None and poll.bell is not None:
                        if self._result_query() == query:  # else the viewer loaded its own page
                            self._show_result_page(poll.rows)
                        self._show_bell(poll.bell)
                        with_rows = True
                    query = self._result_query()
                shown = after
                status, checking = after
                if after == before and (status not in import_jobs.FINAL_STATUSES or checking):
                    continue
                if after == before:
                    return
                # the status moved on, or its look-alike check ended (the rows got their flags)
                if not with_rows:  # ...in the state, not since this watcher's last look
                    await self._reload_rows_and_bell(actor, job_id)
                if status != before[0] and status == import_jobs.COMPLETED:
                    message = rx.toast.success(f"Import completed: {poll.view.file}")
                elif status != before[0] and status == import_jobs.FAILED:
                    message = rx.toast.error(f"Import failed: {poll.view.file}")
                elif status != before[0] and status == import_jobs.AWAITING_CONFIRMATION:
                    message = rx.toast.info(f"Dry run ready: {poll.view.file}")
                if not checking and (
                    status == import_jobs.AWAITING_CONFIRMATION or status in import_jobs.FINAL_STATUSES
                ):
                    break
                if message is not None:  # done; its possible-duplicate count is watched for
                    yield message
                    message = None
            # the error file is written just after the job commits: show its button when it is
            for _ in range(10):
                if last is None or last.has_error_file or not last.invalid_rows:
                    break
                last = await in_thread(read_detail, actor, job_id)
                async with self:
                    if self.shown_id != job_id:
                        break
                    self._show_detail(last)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            async with self:
                if self._watching == job_id:
                    self._watching = 0
        if message is not None:
            yield message

    async def _reload_rows_and_bell(self, actor: Actor, job_id: int) -> None:
        """The page of row results and the bell, read in an event thread, shown under the lock."""
        async with self:
            query = self._result_query()
        rows = await in_thread(_read_rows, actor, query)
        bell = await in_thread(read_bell, actor)
        async with self:
            if self.shown_id == job_id and self._result_query() == query:
                self._show_result_page(rows)
            self._show_bell(bell)

    @rx.event
    @guarded
    def set_undo_open(self, is_open: bool) -> None:
        self.undo_open = bool(is_open)

    @rx.event
    @guarded
    def undo(self) -> Any:
        actor = self._require_actor()
        self.undo_open = False
        try:
            with session_scope() as session:
                report = undo_import(session=session, actor=actor, job_id=self.shown_id)
        except ImportUndoError as exc:
            return rx.toast.error(str(exc))
        self.undo_result = report.summary()
        self._refresh(actor)
        return rx.toast.success("Import undone")

    @rx.event
    @guarded
    def cancel(self) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                import_jobs.cancel_import(session=session, actor=actor, job_id=self.shown_id)
        except import_jobs.ImportJobError as exc:
            return rx.toast.error(str(exc))
        self._refresh(actor)
        return rx.toast.success("Import cancelled")

    @rx.event
    @guarded
    def confirm(self) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                import_jobs.confirm_import(session=session, actor=actor, job_id=self.shown_id)
        except import_jobs.ImportJobError as exc:
            return rx.toast.error(str(exc))
        self._refresh(actor)
        return ImportDetailState.watch


S = ImportDetailState


def content() -> rx.Component:
    undo_message = (
        "Profiles this import created are deleted, fields it changed get their earlier values "
        "back, and identities, tags, consent and segment memberships it added are removed. "
        "Anything changed since by hand or by a later import that is still in effect is kept "
        "and listed. Merges stay merged."
    )
    # the tab's state still holds the report seen before (another import's) until this
    # visit's on_load has read the new one: its figures are not shown meanwhile
    return rx.cond(
        ~rx.State.is_hydrated,
        rx.text("Loading the import report…", role="status", color_scheme="gray"),
        _report(undo_message),
    )


def _report(undo_message: str) -> rx.Component:
    return rx.cond(
        S.missing != "",
        rx.text(S.missing),
        rx.vstack(
            rx.heading(S.file, size="5", as_="h2"),
            rx.text(f"{S.kind} import by {S.who}, {S.created}", color_scheme="gray"),
            rx.hstack(
                rx.text("Status:"),
                rx.badge(S.status, size="2", role="status", aria_label="Import status"),
                align="center",
            ),
            rx.cond(
                S.progress_text != "",
                rx.vstack(
                    rx.progress(value=S.progress, max=100, width="320px", aria_label="Import progress"),
                    rx.text(S.progress_text, size="2", aria_label="Progress", role="status"),
                    rx.cond(S.eta != "", rx.text(S.eta, size="2", color_scheme="gray")),
                    spacing="1",
                ),
            ),
            rx.cond(S.duration != "", rx.text(f"Took {S.duration}", size="2")),
            rx.cond(S.totals != "", rx.text(S.totals, aria_label="Totals")),
            rx.cond(S.error != "", rx.callout.root(rx.callout.text(S.error), color_scheme="red", role="alert")),
            rx.text(S.settings_text, size="2", color_scheme="gray"),
            rx.cond(S.error_file_note != "", rx.text(S.error_file_note, size="2", aria_label="Error file")),
            rx.cond(
                S.undo_result != "",
                rx.callout.root(rx.callout.text(S.undo_result), color_scheme="green", role="status"),
            ),
            rx.hstack(
                rx.cond(S.can_confirm, rx.button("Confirm import", on_click=S.confirm)),
                rx.cond(
                    (S.kind == "membership") & (S.raw_status == "awaiting_confirmation"),
                    rx.link(rx.button("Review members"), href=f"{routes.IMPORTS}/{S.shown_id}/review"),
                ),
                rx.cond(
                    S.can_cancel, rx.button("Cancel import", color_scheme="red", variant="soft", on_click=S.cancel)
                ),
                error_file_button(S, S.has_error_file),
                rx.cond(
                    S.can_undo,
                    rx.button("Undo import", color_scheme="red", variant="soft", on_click=S.set_undo_open(True)),
                ),
                spacing="3",
            ),
            confirm_dialog(
                title=f"Undo the import of {S.file}?",
                message=undo_message,
                is_open=S.undo_open,
                on_open_change=S.set_undo_open,
                on_confirm=S.undo,
                confirm_label="Undo import",
                danger=True,
            ),
            outcome_select(S, "detail-outcome"),
            row_results_table(S, name="Row results", with_profile=True),
            spacing="3",
            width="100%",
            align="start",
        ),
    )


def page() -> rx.Component:
    return shell(content(), route=routes.IMPORT_DETAIL, title=TITLE)
