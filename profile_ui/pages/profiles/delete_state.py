"""State of the Delete dialogs (the list's selection, one profile on User 360) and of the
GDPR erasure (admins, User 360).

Which profiles go is read on the server when the dialog is confirmed: the list's
selection from ProfilesListState (ids of the page, or its filter for "all N matching"),
or the profile User 360 shows (ProfileDetailState.shown_id); never ids sent by the
browser. The services check the permission, the 1..100 limit and the reason.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from ... import routes
from ...db import session_scope
from ...services.deletion import (
    MAX_DELETE_PROFILES,
    DeletionError,
    clean_reason,
    delete_profiles,
    erase_profile,
)
from ...services.permissions import PROFILES_DELETE, PROFILES_VIEW, TRASH_MANAGE
from ...services.profiles import list_profiles
from ...settings import get_settings
from ...state.base import AppState, guarded, in_thread
from ...state.dialog import DialogMixin
from .common import plural
from .detail_state import ProfileDetailState
from .list_state import ProfilesListState

SELECTION = "selection"
ONE_PROFILE = "profile"


def too_many_text(count: int) -> str:
    """The refusal of a selection above the limit (the service's wording)."""
    return f"Select at most {MAX_DELETE_PROFILES} profiles to delete at once (you selected {count:,})"


def consequence_text(retention_days: int) -> str:
    """What the confirmation says deletion does (links go for good; trash or not)."""
    links = (
        "Deletion removes the profile's links to accounts, opportunities, tickets and "
        "tasks; a restore does not bring them back."
    )
    if retention_days <= 0:
        return f"{links} The trash is off (retention 0 days): the profiles are removed immediately and for good."
    return (
        f"{links} Deleted profiles leave every list and search; an admin can restore them "
        f"from the trash for {plural(retention_days, 'day')}."
    )


class DeleteState(DialogMixin, AppState):
    """The Delete dialog: one of the two places opens it (`mode`)."""

    mode: str = ""
    title: str = ""
    consequence: str = ""
    reason_error: str = ""
    error: str = ""
    form_key: int = 0
    confirm_label: str = "Delete"

    def _open(self, mode: str, title: str, confirm_label: str) -> None:
        self.mode, self.title, self.confirm_label = mode, title, confirm_label
        self.consequence = consequence_text(get_settings().trash_retention_days)
        self.reason_error = self.error = ""
        self.form_key += 1
        self.is_open = True

    @rx.event
    @guarded
    async def open_for_selection(self) -> Any:
        listing = await self.get_state(ProfilesListState)
        return await in_thread(self._open_for_selection, listing)

    def _open_for_selection(self, listing: ProfilesListState) -> Any:
        actor = self._require_actor()
        actor.require(PROFILES_DELETE)
        count = listing.selection_count
        if count == 0:
            return rx.toast.error("Select the profiles to delete first")
        if count > MAX_DELETE_PROFILES:
            return rx.toast.error(too_many_text(count))
        who = f"all {plural(count, 'matching profile')}" if listing.all_matching else plural(count)
        self._open(SELECTION, f"Delete {who}?", f"Delete {plural(count)}")
        return None

    @rx.event
    @guarded
    async def open_for_profile(self) -> None:
        detail = await self.get_state(ProfileDetailState)
        await in_thread(self._open_for_profile, detail)

    def _open_for_profile(self, detail: ProfileDetailState) -> None:
        actor = self._require_actor()
        actor.require(PROFILES_DELETE)
        self._open(ONE_PROFILE, f"Delete {detail.title}?", "Delete")

    def _selected_ids(self, actor: Any, listing: ProfilesListState) -> list[int]:
        """The list's selection as ids: the checked rows, or every profile matching the
        list's filter ("all N matching"), refused above the limit."""
        if not listing.all_matching:
            return [int(i) for i in listing.selected if str(i).isdigit()]
        actor.require(PROFILES_VIEW)
        with session_scope() as session:
            page = list_profiles(
                session=session, actor=actor, flt=listing._flt(), page_size=MAX_DELETE_PROFILES, with_total=True
            )
        if (page.total or 0) > MAX_DELETE_PROFILES:
            raise DeletionError(too_many_text(page.total or 0))
        return [p.id for p in page.rows]

    @rx.event
    @guarded
    async def confirm(self, form_data: dict[str, Any]) -> Any:
        listing = await self.get_state(ProfilesListState) if self.mode == SELECTION else None
        detail = await self.get_state(ProfileDetailState) if self.mode == ONE_PROFILE else None
        return await in_thread(self._confirm, form_data, listing, detail)

    def _confirm(
        self, form_data: dict[str, Any], listing: ProfilesListState | None, detail: ProfileDetailState | None
    ) -> Any:
        actor = self._require_actor()
        reason = str(form_data.get("reason") or "")
        try:
            clean_reason(reason)
        except DeletionError as exc:
            self.reason_error, self.error = str(exc), ""
            return None
        self.reason_error = ""
        try:
            if listing is not None:
                ids = self._selected_ids(actor, listing)
            elif detail is not None:
                ids = [detail.shown_id]
            else:
                return None
            with session_scope() as session:
                result = delete_profiles(session=session, actor=actor, profile_ids=ids, reason=reason)
        except DeletionError as exc:
            self.error = str(exc)
            return None
        self.is_open = False
        n = len(result.profile_ids)
        done = (
            f"Deleted {plural(n)} for good (the trash is off)"
            if result.purged
            else f"Deleted {plural(n)}: in the trash for {plural(get_settings().trash_retention_days, 'day')}"
        )
        if result.links_removed:
            done += f"; {plural(result.links_removed, 'link')} removed"
        events: list[Any] = [rx.toast.success(done)]
        if listing is not None:
            listing._clear_selection()
            follow_up = listing._load_rows(actor, count=True)
            if follow_up is not None:
                events.append(follow_up)
        else:
            events.append(rx.redirect(routes.PROFILES))
        return events


class EraseState(AppState):
    """GDPR erasure of the profile User 360 shows: a reason, then a second confirmation."""

    step: int = 0  # 0 closed, 1 the reason, 2 "erase for good?"
    reason_error: str = ""
    reason_shown: str = ""  # what the reason box starts with (the refused reason, to fix)
    form_key: int = 0
    _reason: str = ""

    @rx.event
    @guarded
    def start(self) -> None:
        actor = self._require_actor()
        actor.require(PROFILES_DELETE, TRASH_MANAGE)
        self.reason_error = self._reason = self.reason_shown = ""
        self.form_key += 1
        self.step = 1

    def _close_step(self, is_open: bool, step: int) -> None:
        """The dialog of `step` was closed (Cancel, Esc): the erasure stops."""
        self._require_actor()
        if not is_open and self.step == step:
            self.step = 0

    @rx.event
    @guarded
    def set_reason_open(self, is_open: bool) -> None:
        self._close_step(is_open, 1)

    @rx.event
    @guarded
    def set_confirm_open(self, is_open: bool) -> None:
        self._close_step(is_open, 2)

    @rx.event
    @guarded
    def check_reason(self, form_data: dict[str, Any]) -> None:
        """First confirmation: the reason is there; the second asks once more."""
        self._require_actor()
        try:
            self._reason = clean_reason(str(form_data.get("reason") or ""), what="erasing")
        except DeletionError as exc:
            self.reason_error = str(exc)
            return
        self.reason_error = ""
        self.step = 2

    @rx.event
    @guarded
    async def erase(self) -> Any:
        detail = await self.get_state(ProfileDetailState)
        return await in_thread(self._erase, detail)

    def _erase(self, detail: ProfileDetailState) -> Any:
        actor = self._require_actor()
        if self.step != 2 or not self._reason:
            return None
        try:
            with session_scope() as session:
                erased = erase_profile(session=session, actor=actor, profile_id=detail.shown_id, reason=self._reason)
        except DeletionError as exc:
            # back to the reason, saying why (e.g. it quoted the person's data)
            self.reason_error, self.reason_shown, self.step = str(exc), self._reason, 1
            self.form_key += 1
            return None
        self.step, self._reason = 0, ""
        return [
            rx.toast.success(
                f"Profile {detail.shown_id} erased: its personal data is gone "
                f"for good ({erased.summary()}); the audit log keeps a record "
                "without it"
            ),
            rx.redirect(routes.PROFILES),
        ]
