"""The Column display dialog of the profile list: which attributes, identities and tags
show as columns, in what order; saved per user, or (admins) as everyone's default.
After a save the list (ProfilesListState) shows the new columns."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ...db import session_scope
from ...services import view_prefs
from ...services.view_prefs import ViewPrefsError
from ...state.base import AppState, guarded, in_thread
from ...state.dialog import DialogMixin
from .list_state import ProfilesListState


@dataclasses.dataclass
class ColumnChoice:
    """A column the dialog offers."""

    key: str
    label: str
    group: str  # Attributes | Identities | Tags
    note: str = ""  # what the list does with it besides showing it: sorting, the query box


def _note(option: view_prefs.ColumnOption) -> str:
    return " · ".join(
        text
        for text, applies in (
            (option.sorts_how or "sorts", option.sortable),
            (option.not_sortable_because, bool(option.not_sortable_because)),
            ("query box searches it", option.searchable),
        )
        if applies
    )


class ColumnDisplayState(DialogMixin, AppState):
    options: list[ColumnChoice] = []
    draft: list[str] = []  # the chosen column keys, in order
    source: str = "builtin"  # whose view the user sees now: user | default | builtin
    error: str = ""

    @rx.var
    def labels(self) -> dict[str, str]:
        return {option.key: option.label for option in self.options}

    def _show(self, view: view_prefs.ListView) -> None:
        self.options = [ColumnChoice(o.key, o.label, o.group, _note(o)) for o in view.options]
        self.source = view.source
        self.draft = list(view.columns)

    @rx.event
    @guarded
    def open_dialog(self) -> None:
        actor = self._require_actor()
        with session_scope() as session:
            self._show(view_prefs.get_list_view(session=session, actor=actor))
        self.error = ""
        self.is_open = True

    @rx.event
    @guarded
    def toggle(self, key: str, shown: bool) -> None:
        self._require_actor()
        known = {o.key for o in self.options}
        if shown and key in known and key not in self.draft:
            self.draft = [*self.draft, key]
        elif not shown:
            self.draft = [k for k in self.draft if k != key]

    @rx.event
    @guarded
    def move(self, key: str, step: int) -> None:
        self._require_actor()
        order = list(self.draft)
        if key not in order:
            return
        i = order.index(key)
        j = min(max(i + int(step), 0), len(order) - 1)
        order[i], order[j] = order[j], order[i]
        self.draft = order

    async def _apply(self, change: Any, done: str) -> Any:
        """Run `change(session, actor, page_size)` (returns a ListView), then show the
        actor's own view in the list."""
        listing = await self.get_state(ProfilesListState)
        return await in_thread(self._apply_in_thread, listing, change, done)

    def _apply_in_thread(self, listing: ProfilesListState, change: Any, done: str) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                change(session, actor, listing.page_size)
                view = view_prefs.get_list_view(session=session, actor=actor)
        except ViewPrefsError as exc:
            self.error = str(exc)
            return None
        self._show(view)
        self.is_open = False
        listing._apply_view(view)
        follow_up = listing._load_rows(actor, count=False)
        return [rx.toast.success(done)] + ([follow_up] if follow_up else [])

    @rx.event
    @guarded
    async def save(self) -> Any:
        columns = list(self.draft)
        return await self._apply(
            lambda session, actor, page_size: view_prefs.save_list_view(
                session=session, actor=actor, columns=columns, page_size=page_size
            ),
            "Columns saved",
        )

    @rx.event
    @guarded
    async def save_default(self) -> Any:
        columns = list(self.draft)
        return await self._apply(
            lambda session, actor, page_size: view_prefs.save_default_list_view(
                session=session, actor=actor, columns=columns, page_size=page_size
            ),
            "Saved as the default for everyone without their own columns",
        )

    @rx.event
    @guarded
    async def use_default(self) -> Any:
        return await self._apply(
            lambda session, actor, _page_size: view_prefs.reset_list_view(session=session, actor=actor),
            "Showing the default columns",
        )
