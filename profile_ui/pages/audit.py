"""Audit log (/audit): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Audit log"


class AuditState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.AUDIT)


def page() -> rx.Component:
    return shell(
        coming_soon("the audit log of every delete, merge, import, export and edit", icon="scroll_text"),
        route=routes.AUDIT, title=TITLE,
    )
