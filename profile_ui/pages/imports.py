"""Imports (/imports): the import history is an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Imports"


class ImportsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.IMPORTS)


def page() -> rx.Component:
    return shell(
        rx.vstack(
            rx.button(rx.link(rx.icon("upload", size=16, aria_hidden="true"), "New import",
                              href=routes.IMPORT_NEW, underline="none"),
                      as_child=True),
            coming_soon("the import history with progress, results and undo", icon="upload"),
            spacing="4",
            width="100%",
        ),
        route=routes.IMPORTS, title=TITLE,
    )
