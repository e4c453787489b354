"""State of the possible duplicates page (/duplicates, profiles.merge): one page of pairs,
the filters (minimum score, import, status), the per-pair decisions, the merge dialog
(choose the surviving value of each differing field) and merging the selected pairs.

Which pair an event acts on is an id the server listed on this page (`_listed`); the values
a merge keeps are looked up in the server's own preview, never taken from the browser.
services/duplicate_review.py checks the permission before anything.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from .. import routes
from ..db import session_scope
from ..services.dedupe.scoring import DEFAULT_THRESHOLD
from ..services.duplicate_review import (
    CandidateFilter,
    CandidateView,
    DuplicateError,
    count_candidates,
    decide,
    import_choices,
    list_candidates,
    merge_candidate,
    merge_candidates,
    preview_candidate,
)
from ..services.merging import MergeError
from ..services.permissions import PROFILES_MERGE
from ..state.base import AppState, guarded
from ..state.merge_choices import MergeChoicesMixin, MergeRow
from ..state.paging import PagedMixin

SCORE_CHOICES = ("0.5", "0.6", "0.7", "0.8", "0.9", "0.95")
STATUS_CHOICES = (
    ("open", "To review"),
    ("skipped", "Skipped"),
    ("not_same", "Not the same person"),
    ("merged", "Merged"),
)


@dataclasses.dataclass
class PairField:
    label: str
    a: str
    b: str
    state: str  # same | near | differ | missing


@dataclasses.dataclass
class PairCard:
    id: str
    title: str  # "#12 and #40"
    a_id: str
    b_id: str
    score: str  # "93%"
    reasons: str
    import_text: str
    fields: list[PairField]


def _card(view: CandidateView) -> PairCard:
    return PairCard(
        id=str(view.id),
        title=f"#{view.profile_a_id} and #{view.profile_b_id}",
        a_id=str(view.profile_a_id),
        b_id=str(view.profile_b_id),
        score=f"{view.score:.0%}",
        reasons=view.reasons,
        import_text=f"from import #{view.import_job_id}" if view.import_job_id else "",
        fields=[PairField(label=r["label"], a=r["a"] or "—", b=r["b"] or "—", state=r["state"]) for r in view.rows],
    )


class DuplicatesState(MergeChoicesMixin, PagedMixin, AppState):
    cards: list[PairCard] = []
    min_score: str = f"{DEFAULT_THRESHOLD:g}"
    import_id: str = "all"
    imports: list[list[str]] = []  # [value, label]
    status: str = "open"
    selected: list[str] = []
    bulk_open: bool = False
    result: str = ""
    # the merge dialog
    merge_open: bool = False
    merge_pair: str = ""
    merge_title: str = ""
    choices: list[MergeRow] = []
    merge_error: str = ""
    _listed: list[int] = []

    @rx.var
    def total_text(self) -> str:
        return f"{self.total:,} pair{'' if self.total == 1 else 's'}"

    @rx.var
    def selection_text(self) -> str:
        n = len(self.selected)
        return f"{n} pair{'' if n == 1 else 's'} selected"

    def _filter(self) -> CandidateFilter:
        try:
            score = float(self.min_score)
        except ValueError:
            score = DEFAULT_THRESHOLD
        return CandidateFilter(
            min_score=score, status=self.status, import_job_id=int(self.import_id) if self.import_id.isdigit() else None
        )

    def _show_page(self, actor: Any) -> None:
        flt = self._filter()
        with session_scope() as session:
            self.total = count_candidates(session=session, actor=actor, flt=flt)
            self.page = min(self.page, self.pages)
            views = list_candidates(
                session=session, actor=actor, flt=flt, offset=(self.page - 1) * self.page_size, limit=self.page_size
            )
            self.imports = [[str(i), label] for i, label in import_choices(session=session, actor=actor)]
        self.cards = [_card(v) for v in views]
        self._listed = [v.id for v in views]
        self.selected = [i for i in self.selected if i.isdigit() and int(i) in self._listed]

    def _listed_id(self, pair_id: str) -> int:
        if not str(pair_id).isdigit() or int(pair_id) not in self._listed:
            raise DuplicateError("This pair is not on the page any more: reload it")
        return int(pair_id)

    @rx.event
    @guarded
    def on_load(self) -> None:
        self.result, self.selected, self.bulk_open, self.merge_open, self.page = "", [], False, False, 1
        actor = self._enter_page(routes.DUPLICATES)
        if actor is not None:
            self._show_page(actor)

    @rx.event
    @guarded
    def set_filter(self, name: str, value: str) -> None:
        actor = self._require_actor()
        if name == "min_score" and value in SCORE_CHOICES:
            self.min_score = value
        elif name == "status" and value in dict(STATUS_CHOICES):
            self.status = value
        elif name == "import_id":
            self.import_id = value if value.isdigit() else "all"
        self.page, self.selected = 1, []
        self._show_page(actor)

    @rx.event
    @guarded
    def toggle(self, pair_id: str, checked: bool) -> None:
        self._require_actor()
        self.selected = [i for i in self.selected if i != pair_id] + ([pair_id] if checked else [])

    @rx.event
    @guarded
    def decide(self, pair_id: str, decision: str) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)  # before anything of the browser's is read
        try:
            with session_scope() as session:
                decide(session=session, actor=actor, candidate_id=self._listed_id(pair_id), decision=decision)
        except DuplicateError as exc:
            return rx.toast.error(str(exc))
        self.result = (
            "Marked as not the same person: this pair will not be suggested again"
            if decision == "not_same"
            else "Skipped: the pair is set aside (see Skipped)"
        )
        self._show_page(actor)
        return rx.toast.success(self.result)

    # ------------------------------------------------------------ one pair: choose and merge
    @rx.event
    @guarded
    def open_merge(self, pair_id: str) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)  # before anything of the browser's is read
        try:
            with session_scope() as session:
                preview = preview_candidate(session=session, actor=actor, candidate_id=self._listed_id(pair_id))
        except (DuplicateError, MergeError) as exc:
            return rx.toast.error(str(exc))
        self.merge_pair, self.merge_error = pair_id, ""
        self.merge_title = (
            f"Merge #{preview.merged_id} {preview.merged_name} into #{preview.survivor_id} {preview.survivor_name}"
        )
        self.choices = [row for row in self._keep_preview(preview) if not row.same]
        self.merge_open = True
        return None

    @rx.event
    @guarded
    def set_merge_open(self, is_open: bool) -> None:
        self._require_actor()
        self.merge_open = bool(is_open)

    @rx.event
    @guarded
    def confirm_merge(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)  # before anything of the browser's is read
        chosen = self._chosen_values(form_data)
        try:
            with session_scope() as session:
                result = merge_candidate(
                    session=session,
                    actor=actor,
                    candidate_id=self._listed_id(self.merge_pair),
                    chosen_values=chosen,
                    reason=str(form_data.get("reason") or ""),
                )
        except (DuplicateError, MergeError) as exc:
            self.merge_error = str(exc)
            return None
        self.merge_open = False
        self._forget_preview()
        self.result = f"Profile #{result.merged_id} merged into #{result.survivor_id} (it can be undone on User 360)"
        self._show_page(actor)
        return rx.toast.success(self.result)

    # ------------------------------------------------------------ several pairs at once
    @rx.event
    @guarded
    def set_bulk_open(self, is_open: bool) -> None:
        self._require_actor()
        self.bulk_open = bool(is_open) and bool(self.selected)

    @rx.event
    @guarded
    def merge_selected(self) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)  # before anything of the browser's is read
        self.bulk_open = False
        try:
            ids = [self._listed_id(i) for i in self.selected]
            with session_scope() as session:
                results = merge_candidates(session=session, actor=actor, candidate_ids=ids)
        except (DuplicateError, MergeError) as exc:
            return rx.toast.error(f"Nothing was merged: {exc}")
        self.result = f"Merged {len(results)} pair{'' if len(results) == 1 else 's'} with the suggested values"
        self.selected = []
        self._show_page(actor)
        return rx.toast.success(self.result)
