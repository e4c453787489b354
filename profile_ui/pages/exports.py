"""Exports (/exports): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Exports"


class ExportsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.EXPORTS)


def page() -> rx.Component:
    return shell(
        coming_soon("governed exports of profile lists and their download links", icon="download"),
        route=routes.EXPORTS, title=TITLE,
    )
