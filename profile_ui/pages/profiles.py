"""Profiles (/profiles): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Profiles"


class ProfilesState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.PROFILES)


def page() -> rx.Component:
    return shell(
        coming_soon("the profile list with search, filters and columns", icon="users"),
        route=routes.PROFILES, title=TITLE,
    )
