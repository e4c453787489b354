"""Tags (/tags): an empty state until its issue builds it."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.empty_state import coming_soon
from ..components.shell import shell
from ..state.base import AppState, guarded

TITLE = "Tags"


class TagsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.TAGS)


def page() -> rx.Component:
    return shell(
        coming_soon("tag groups, tags and batch tagging", icon="tags"),
        route=routes.TAGS, title=TITLE,
    )
