"""An import job's per-row results, one page at a time, and its error file: the viewer the
import detail page and the wizard's dry-run preview share (components/row_results.py draws
it). A page state mixes it in before AppState and defines `_results_job_id()`, the job
whose rows it shows (the server's own id, never one sent by the browser).

    class ImportDetailState(RowResultsMixin, AppState):
        def _results_job_id(self) -> int:
            return self.shown_id
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import reflex as rx

from ..db import session_scope
from ..services import retention
from ..services.importing import jobs as import_jobs
from ..services.importing.possible_duplicates import describe as possible_duplicate_text
from ..services.importing.results import field_changes, reasons_text, row_results
from ..services.permissions import Actor
from .base import guarded

RESULTS_PAGE_SIZE = 25
ALL_OUTCOMES = "all"
# the "Show rows" choices, in the order the viewer lists them (the row outcomes of RowOutcome)
OUTCOME_CHOICES = (ALL_OUTCOMES, "new", "updated", "merged", "unchanged", "invalid", "conflict", "skipped")


@dataclasses.dataclass
class ResultRow:
    """One row of the file as the viewer shows it."""

    row: int
    outcome: str
    profile: str  # the profile's id ("" when the row made none)
    changes: str
    reasons: str


def changes_text(changes: dict[str, Any]) -> str:
    """A row's changes, "Name: before → after; ...", then what made it a possible duplicate."""
    parts = []
    for name, pair in field_changes(changes).items():
        if isinstance(pair, list) and len(pair) == 2:
            before, after = pair
            parts.append(f"{name}: {before if before not in (None, '') else '∅'} → {after}")
    return "; ".join(parts + [text for text in [possible_duplicate_text(changes)] if text])


@dataclasses.dataclass(frozen=True)
class ResultQuery:
    """Which page of which job's rows the viewer shows (read under the state's lock)."""

    job_id: int
    outcome: str
    page: int


@dataclasses.dataclass(frozen=True)
class ResultPage:
    rows: list[ResultRow]
    count: int


def read_result_page(session: Any, actor: Actor, query: ResultQuery) -> ResultPage:
    """One page of a job's row results as the viewer shows them (no state touched: a
    background event calls it in a thread and shows it with `_show_result_page`)."""
    rows, count = row_results(
        session=session,
        actor=actor,
        job_id=query.job_id,
        outcome=None if query.outcome == ALL_OUTCOMES else query.outcome,
        offset=(query.page - 1) * RESULTS_PAGE_SIZE,
        limit=RESULTS_PAGE_SIZE,
    )
    return ResultPage(
        rows=[
            ResultRow(
                row=r["row_number"],
                outcome=r["outcome"],
                profile=str(r["profile_id"] or ""),
                changes=changes_text(r["changes"]),
                reasons=reasons_text(r["errors"]),
            )
            for r in rows
        ],
        count=count,
    )


class RowResultsMixin(rx.State, mixin=True):
    result_rows: list[ResultRow] = []
    result_outcome: str = ALL_OUTCOMES
    result_page: int = 1
    result_pages: int = 1
    result_count: int = 0

    if TYPE_CHECKING:  # AppState's, which the page state mixing this in is

        def _require_actor(self) -> Actor: ...

    @rx.var
    def result_count_text(self) -> str:
        return f"{self.result_count:,} row{'' if self.result_count == 1 else 's'}"

    def _results_job_id(self) -> int:
        raise NotImplementedError

    def _reset_results(self) -> None:
        self.result_rows, self.result_outcome = [], ALL_OUTCOMES
        self.result_page, self.result_pages, self.result_count = 1, 1, 0

    def _load_result_rows(self, session: Any, actor: Actor) -> None:
        """The current page of the job's rows (the caller's session: one transaction)."""
        self._show_result_page(read_result_page(session, actor, self._result_query()))

    def _result_query(self) -> ResultQuery:
        return ResultQuery(job_id=self._results_job_id(), outcome=self.result_outcome, page=self.result_page)

    def _show_result_page(self, page: ResultPage) -> None:
        self.result_count = page.count
        self.result_pages = max(1, -(-page.count // RESULTS_PAGE_SIZE))
        self.result_rows = list(page.rows)

    def _show_result_rows(self) -> None:
        actor = self._require_actor()
        with session_scope() as session:
            self._load_result_rows(session, actor)

    @rx.event
    @guarded
    def set_result_outcome(self, outcome: str) -> None:
        self.result_outcome = outcome if outcome in OUTCOME_CHOICES else ALL_OUTCOMES
        self.result_page = 1
        self._show_result_rows()

    @rx.event
    @guarded
    def set_result_page(self, page: int) -> None:
        self.result_page = min(max(1, int(page)), self.result_pages)
        self._show_result_rows()

    @rx.event
    @guarded
    def download_errors(self) -> Any:
        """The job's error file (its owner or an admin: the service checks)."""
        actor = self._require_actor()
        try:
            with session_scope() as session:
                data, name = retention.error_file_download(session=session, actor=actor, job_id=self._results_job_id())
        except import_jobs.ImportJobError as exc:
            return rx.toast.info(str(exc))
        return rx.download(data=data, filename=name)
