"""State of the trash (/trash, admins): one page of deleted profiles, a search, the
selection of restorable ones and their restore (after a confirmation)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any

import reflex as rx

from .. import routes
from ..db import session_scope
from ..models import utcnow
from ..services.trash import TrashError, TrashItem, list_trash, restore_profiles
from ..state.base import AppState, guarded
from ..state.paging import PagedMixin
from ..state.selection import toggled


@dataclasses.dataclass
class TrashLine:
    """One deleted profile as the browser sees it."""

    id: str
    name: str
    deleted_by: str
    deleted_at: str
    reason: str
    days_left: str
    restorable: bool


def days_left_text(item: TrashItem, now: datetime) -> str:
    if (item.reason or "").startswith("merged into "):
        return "Merged: cannot be restored"
    if item.purge_after is None or item.purge_after <= now:
        return "Purged at the next run"
    days = math.ceil((item.purge_after - now).total_seconds() / 86400)
    return f"{days} day{'' if days == 1 else 's'}"


def trash_line(item: TrashItem, now: datetime) -> TrashLine:
    return TrashLine(
        id=str(item.profile_id),
        name=item.full_name or f"Profile {item.profile_id}",
        deleted_by=item.deleted_by or "unknown user",
        deleted_at=f"{item.deleted_at:%Y-%m-%d %H:%M}" if item.deleted_at else "",
        reason=item.reason or "",
        days_left=days_left_text(item, now),
        restorable=item.restorable,
    )


class TrashState(PagedMixin, AppState):
    lines: list[TrashLine] = []
    retention_days: int = 30
    search: str = ""
    search_key: int = 0  # bumped to clear the (uncontrolled) search box
    selected: list[str] = []
    confirm_open: bool = False
    result: str = ""  # the last restore's outcome, shown above the table

    @rx.var
    def total_text(self) -> str:
        return f"{self.total:,} deleted profile{'' if self.total == 1 else 's'}"

    @rx.var
    def restorable_ids(self) -> list[str]:
        return [line.id for line in self.lines if line.restorable]

    @rx.var
    def page_selected(self) -> bool:
        ids = self.restorable_ids
        return bool(ids) and all(i in self.selected for i in ids)

    @rx.var
    def selection_text(self) -> str:
        n = len(self.selected)
        return f"{n} profile{'' if n == 1 else 's'} selected"

    def _load(self, actor: Any) -> None:
        now = utcnow()
        with session_scope() as session:
            found = list_trash(
                session=session, actor=actor, text=self.search, page=self.page, page_size=self.page_size, now=now
            )
        if found.items == [] and found.total and self.page > found.pages:
            self.page = found.pages
            with session_scope() as session:
                found = list_trash(
                    session=session, actor=actor, text=self.search, page=self.page, page_size=self.page_size, now=now
                )
        self.lines = [trash_line(item, now) for item in found.items]
        self.total, self.retention_days = found.total, found.retention_days
        self.selected = [i for i in self.selected if i in self.restorable_ids]

    def _show_page(self, actor: Any) -> None:
        self.selected = []
        self._load(actor)

    @rx.event
    @guarded
    def on_load(self) -> None:
        self.confirm_open, self.result, self.selected = False, "", []
        if self.search:
            self.search, self.search_key = "", self.search_key + 1
        self.page = 1
        actor = self._enter_page(routes.TRASH)
        if actor is not None:
            self._load(actor)

    @rx.event
    @guarded
    def apply_search(self, form_data: dict[str, Any]) -> None:
        actor = self._require_actor()
        self.search = str(form_data.get("q") or "").strip()
        self.page, self.selected = 1, []
        self._load(actor)

    @rx.event
    @guarded
    def toggle_row(self, row_id: str, checked: bool) -> None:
        self._require_actor()
        self.selected = toggled(self.selected, row_id, checked, self.restorable_ids)

    @rx.event
    @guarded
    def toggle_page(self, checked: bool) -> None:
        self._require_actor()
        self.selected = list(self.restorable_ids) if checked else []

    @rx.event
    @guarded
    def set_confirm_open(self, is_open: bool) -> None:
        self._require_actor()
        self.confirm_open = bool(is_open) and bool(self.selected)

    @rx.event
    @guarded
    def restore(self) -> Any:
        actor = self._require_actor()
        ids = [int(i) for i in self.selected if i.isdigit()]
        self.confirm_open = False
        try:
            with session_scope() as session:
                restored = restore_profiles(session=session, actor=actor, profile_ids=ids)
        except TrashError as exc:
            self.result = ""
            self._load(actor)
            return rx.toast.error(str(exc))
        n = len(restored)
        self.result = (
            f"Restored {n} profile{'' if n == 1 else 's'}: back in the profile list "
            "(their links to accounts, opportunities, tickets and tasks were removed "
            "at deletion and stay gone)"
        )
        self.selected = []
        self._load(actor)
        return rx.toast.success(f"Restored {n} profile{'' if n == 1 else 's'}")
