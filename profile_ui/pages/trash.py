"""Trash (/trash): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Trash"


class TrashState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.TRASH)


def page() -> rx.Component:
    return shell(
        coming_soon("deleted profiles, restorable until they are purged", icon="trash_2"),
        route=routes.TRASH, title=TITLE,
    )
