"""Membership sync review (/imports/[import_id]/review): invite, update, and deactivate
or delete the members of a group from a member file (issue #5). Placeholder."""

from __future__ import annotations

import reflex as rx

from ... import routes
from ...components.empty_state import coming_soon
from ...components.shell import shell
from ...state.base import AppState, guarded

TITLE = "Review members"


class MembershipReviewState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> None:
        self._enter_page(routes.IMPORT_REVIEW)


def page() -> rx.Component:
    return shell(
        coming_soon("inviting, updating and deactivating group members from a file",
                    icon="users"),
        route=routes.IMPORT_REVIEW, title=TITLE,
    )
