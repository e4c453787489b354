"""/ : send the visitor to their first page, or to sign in."""

from __future__ import annotations

from typing import Any

import reflex as rx

from .. import routes
from ..state.base import AppState, guarded


class IndexState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> Any:
        actor = self._require_actor()
        return rx.redirect(routes.first_allowed_page(actor.permissions), replace=True)


def page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="100vh", aria_busy="true", aria_label="Loading")
