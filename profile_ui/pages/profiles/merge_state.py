"""State of merging two profiles (the list's "Merge" with two selected, User 360's
"Merge with…"), of User 360's "merged from #id …" lines with their Unmerge, and of the
audit log's "Undo merge".

Which profiles are merged is read on the server: the list's two selected ids
(ProfilesListState.selected), User 360's shown profile (ProfileDetailState.shown_id) and
an id typed into the dialog; the values chosen are looked up in the preview the server
made, never taken from the browser. Which merge is undone is one of the merges the server
listed for the shown profile, or the merge an audit event names. services/merging.py
checks the permission (profiles.merge) before anything.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ... import routes
from ...db import session_scope
from ...services.merging import (
    MergeError,
    UnmergeResult,
    merge_of_event,
    merge_profiles,
    merged_away,
    merges_into,
    preview_merge,
    unmerge,
)
from ...services.permissions import PROFILES_MERGE, PROFILES_VIEW
from ...state.base import AppState, guarded, in_thread
from ...state.dialog import DialogMixin
from ...state.merge_choices import MergeChoicesMixin, MergeRow
from .detail_state import ProfileDetailState
from .list_state import ProfilesListState

STEP_ASK = "ask"  # User 360: which profile to merge with
STEP_CHOOSE = "choose"  # both known: choose the surviving values, give a reason
SOURCE_LABELS = {
    "manual": "by hand",
    "import-sync-rule": "by an import's sync rule",
    "duplicate-review": "from the duplicates review",
}


@dataclasses.dataclass
class MergedFrom:
    """A "merged from #id on date by whom, because …" line on User 360."""

    merge_id: int
    merged_id: int
    text: str


def merged_from_text(info: Any) -> str:
    return (
        f"Merged from #{info.merged_id} ({info.merged_name}) on {info.merged_at:%Y-%m-%d %H:%M} "
        f"by {info.merged_by} {SOURCE_LABELS.get(info.source, '')}, because: {info.reason}"
    )


def unmerge_summary(result: UnmergeResult) -> list[str]:
    """What the unmerge did, line by line, for the result panel."""
    lines = [f"Profile #{result.merged_id} is back as it was before the merge."]
    if result.restored_fields:
        lines.append(
            f"Profile #{result.survivor_id}: {len(result.restored_fields)} field(s) set back "
            "to their value before the merge."
        )
    lines += [f"Kept on #{result.survivor_id}: {c.text}" for c in result.later_changes]
    lines += [f"Not restored: {text}" for text in result.not_restored]
    return lines


class MergeDialogState(MergeChoicesMixin, DialogMixin, AppState):
    """The Merge dialog: pick the other profile (from User 360), choose values, confirm."""

    step: str = ""
    survivor_id: int = 0
    merged_id: int = 0
    survivor_name: str = ""
    merged_name: str = ""
    rows: list[MergeRow] = []
    survivor_identities: str = ""
    merged_identities: str = ""
    error: str = ""
    reason_error: str = ""
    form_key: int = 0

    @rx.var
    def differing(self) -> list[MergeRow]:
        return [r for r in self.rows if not r.same]

    @rx.var
    def agreeing(self) -> list[MergeRow]:
        return [r for r in self.rows if r.same]

    def _preview(self, actor: Any, survivor_id: int, merged_id: int) -> bool:
        try:
            with session_scope() as session:
                preview = preview_merge(session=session, actor=actor, survivor_id=survivor_id, merged_id=merged_id)
        except MergeError as exc:
            self.error = str(exc)
            return False
        self.survivor_id, self.merged_id = survivor_id, merged_id
        self.survivor_name, self.merged_name = preview.survivor_name, preview.merged_name
        self.rows = self._keep_preview(preview)
        self.survivor_identities = ", ".join(preview.survivor_identities) or "none"
        self.merged_identities = ", ".join(preview.merged_identities) or "none"
        self.step, self.error, self.reason_error = STEP_CHOOSE, "", ""
        self.form_key += 1
        return True

    @rx.event
    @guarded
    async def open_for_selection(self) -> Any:
        listing = await self.get_state(ProfilesListState)
        return await in_thread(self._open_for_selection, listing)

    def _open_for_selection(self, listing: ProfilesListState) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        ids = sorted(int(i) for i in listing.selected if str(i).isdigit())
        if listing.all_matching or len(ids) != 2:
            return rx.toast.error("Select exactly two profiles to merge")
        # the older profile survives unless the user swaps them
        if not self._preview(actor, ids[0], ids[1]):
            return rx.toast.error(self.error)
        self.is_open = True
        return None

    @rx.event
    @guarded
    async def open_for_profile(self) -> None:
        detail = await self.get_state(ProfileDetailState)
        await in_thread(self._open_for_profile, detail)

    def _open_for_profile(self, detail: ProfileDetailState) -> None:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        self.survivor_id, self.merged_id, self.survivor_name = detail.shown_id, 0, detail.title
        self.step, self.error, self.rows = STEP_ASK, "", []
        self.form_key += 1
        self.is_open = True

    @rx.event
    @guarded
    def choose_other(self, form_data: dict[str, Any]) -> None:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        raw = str(form_data.get("other_id") or "").strip().lstrip("#")
        if not raw.isdigit():
            self.error = "Enter the id of the other profile (a number, e.g. 1234)"
            return
        self._preview(actor, self.survivor_id, int(raw))

    @rx.event
    @guarded
    def swap(self) -> None:
        actor = self._require_actor()
        if self.step == STEP_CHOOSE:
            self._preview(actor, self.merged_id, self.survivor_id)

    @rx.event
    @guarded
    def confirm(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        reason = str(form_data.get("reason") or "").strip()
        if not reason:
            self.reason_error = "Say why these are the same person (the reason is kept with the merge)"
            return None
        chosen = self._chosen_values(form_data)
        try:
            with session_scope() as session:
                result = merge_profiles(
                    session=session,
                    actor=actor,
                    survivor_id=self.survivor_id,
                    merged_id=self.merged_id,
                    chosen_values=chosen,
                    reason=reason,
                )
        except MergeError as exc:
            self.error, self.reason_error = str(exc), ""
            return None
        self.is_open, self.step = False, ""
        self._forget_preview()
        return [
            rx.toast.success(f"Profile #{result.merged_id} merged into #{result.survivor_id}"),
            rx.redirect(routes.profile_url(result.survivor_id)),
        ]


class UnmergeState(AppState):
    """User 360's merged-from lines and the Unmerge confirmation (also from the audit log)."""

    merged_from: list[MergedFrom] = []
    # the shown profile was merged into another: which, and when / by whom / why
    merged_into_id: int = 0
    merged_into_text: str = ""
    confirm_open: bool = False
    confirm_text: str = ""
    result_lines: list[str] = []
    result_survivor: int = 0
    result_merged: int = 0
    _pending: int = 0  # the merge the confirmation is about (found on the server)

    @rx.event
    @guarded
    def on_load(self) -> None:
        """User 360's merges (runs after ProfileDetailState.on_load on the same page, which
        sends a visitor without a session to the sign-in page: nothing to do here then)."""
        actor = self._actor_or_none()
        raw = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        self.confirm_open = False
        if actor is None or not actor.can(PROFILES_VIEW) or not raw.isdigit():
            self.merged_from, self.merged_into_id, self.merged_into_text = [], 0, ""
            return
        if self.result_survivor != int(raw) and self.result_merged != int(raw):
            self.result_lines = []
        with session_scope() as session:
            self.merged_from = [
                MergedFrom(i.merge_id, i.merged_id, merged_from_text(i))
                for i in merges_into(session=session, actor=actor, profile_id=int(raw))
            ]
            away = merged_away(session=session, actor=actor, profile_id=int(raw))
        self.merged_into_id = away.survivor_id if away else 0
        self.merged_into_text = (
            (
                f"This profile was merged into #{away.survivor_id} on {away.merged_at:%Y-%m-%d %H:%M} "
                f"by {away.merged_by}, because: {away.reason}"
            )
            if away
            else ""
        )

    @rx.event
    @guarded
    def ask(self, merge_id: int) -> None:
        """Unmerge clicked on a merged-from line: only a merge listed for this profile."""
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        line = next((m for m in self.merged_from if m.merge_id == int(merge_id)), None)
        if line is None:
            return
        self._pending = line.merge_id
        self.confirm_text = (
            f"Profile #{line.merged_id} comes back as it was before the merge; this "
            "profile keeps the changes made to it since (they are listed afterwards)."
        )
        self.confirm_open = True

    @rx.event
    @guarded
    def ask_for_event(self, event_id: int) -> Any:
        """The audit log's Undo merge: the merge the (server-side) audit event names."""
        actor = self._require_actor()
        with session_scope() as session:
            info = merge_of_event(session=session, actor=actor, event_id=int(event_id))
        if info is None:
            return rx.toast.error("This merge has no record to undo")
        if info.undone_at is not None:
            return rx.toast.info(f"This merge was already undone on {info.undone_at:%Y-%m-%d %H:%M}")
        self._pending = info.merge_id
        self.confirm_text = (
            f"Profile #{info.merged_id} comes back as it was before the merge into "
            f"#{info.survivor_id}, which keeps the changes made to it since."
        )
        self.confirm_open = True
        return None

    @rx.event
    @guarded
    def set_confirm_open(self, is_open: bool) -> None:
        self._require_actor()
        self.confirm_open = bool(is_open)

    @rx.event
    @guarded
    def confirm(self) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_MERGE)
        if not self._pending:
            return None
        try:
            with session_scope() as session:
                result = unmerge(session=session, actor=actor, merge_id=self._pending)
        except MergeError as exc:
            self.confirm_open = False
            return rx.toast.error(str(exc))
        self._pending, self.confirm_open = 0, False
        self.result_lines = unmerge_summary(result)
        self.result_survivor, self.result_merged = result.survivor_id, result.merged_id
        return [
            rx.toast.success(f"Unmerged: profiles #{result.survivor_id} and #{result.merged_id} are both back"),
            rx.redirect(routes.profile_url(result.survivor_id)),
        ]

    @rx.event
    @guarded
    def dismiss_result(self) -> None:
        self._require_actor()
        self.result_lines = []
