"""Settings (/settings): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Settings"


class SettingsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.SETTINGS)


def page() -> rx.Component:
    return shell(
        coming_soon("users and roles, fields, sync rules and workspace settings", icon="settings"),
        route=routes.SETTINGS, title=TITLE,
    )
