"""Segments (/segments): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Segments"


class SegmentsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.SEGMENTS)


def page() -> rx.Component:
    return shell(
        coming_soon("segments imported from files or built from saved filters", icon="chart_pie"),
        route=routes.SEGMENTS, title=TITLE,
    )
