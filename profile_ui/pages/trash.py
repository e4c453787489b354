"""Trash (/trash, admins): deleted profiles with who deleted them, when, why and how
many days are left before the purge; select and restore them. State: trash_state.py."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.data_table import lines_table
from ..components.dialogs import confirm_dialog
from ..components.filter_bar import search_form, search_input
from ..components.pagination import pagination
from ..components.shell import shell
from .trash_state import TrashLine, TrashState

TITLE = "Trash"
S = TrashState
HEADERS = ("Profile", "Deleted by", "Deleted at", "Reason", "Days left")


def _line(line: TrashLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                line.restorable,
                rx.checkbox(
                    checked=S.selected.contains(line.id),
                    on_change=lambda checked: S.toggle_row(line.id, checked),
                    aria_label="Select " + line.name,
                ),
            )
        ),
        rx.table.row_header_cell(line.name),
        rx.table.cell(line.deleted_by),
        rx.table.cell(line.deleted_at),
        rx.table.cell(rx.text(line.reason, size="2", max_width="320px")),
        rx.table.cell(line.days_left, white_space="nowrap"),
    )


def _search() -> rx.Component:
    return search_form(
        rx.hstack(
            search_input(
                default_value=S.search,
                placeholder="Name, e-mail, phone or user ID",
                aria_label="Search the trash",
                width="320px",
            ),
            rx.button("Search", type="submit", variant="soft"),
            spacing="2",
        ),
        on_submit=S.apply_search,
        key=S.search_key,
        aria_label="Find deleted profiles",
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.retention_days <= 0,
            rx.callout(
                "The retention window is 0 days: deletion is immediate and cannot be "
                "undone, so nothing stays in the trash.",
                icon="info",
                color_scheme="orange",
                role="note",
                width="100%",
            ),
            rx.text(
                f"Deleted profiles can be restored for {S.retention_days} days after their "
                "deletion; then the daily purge removes them for good, with their identities.",
                size="2",
                color_scheme="gray",
            ),
        ),
        rx.hstack(
            _search(),
            rx.spacer(),
            rx.cond(S.selected.length() > 0, rx.text(S.selection_text, size="2", weight="medium", role="status")),
            rx.button(
                rx.icon("undo_2", size=16, aria_hidden="true"),
                "Restore",
                disabled=S.selected.length() == 0,
                on_click=S.set_confirm_open(True),
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.cond(
            S.result != "", rx.callout(S.result, icon="circle_check", color_scheme="green", role="status", width="100%")
        ),
        lines_table(
            caption="Deleted profiles",
            header=[
                rx.table.column_header_cell(
                    rx.checkbox(
                        checked=S.page_selected,
                        on_change=S.toggle_page,
                        disabled=S.restorable_ids.length() == 0,
                        aria_label="Select all restorable profiles on this page",
                    ),
                    width="36px",
                ),
                *[rx.table.column_header_cell(h) for h in HEADERS],
            ],
            lines=S.lines,
            line=_line,
            empty="The trash is empty.",
        ),
        pagination(
            page=S.page,
            pages=S.pages,
            total_text=S.total_text,
            page_size=S.page_size,
            on_page=S.go_to_page,
            on_page_size=S.set_page_size,
        ),
        confirm_dialog(
            title="Restore the selected profiles?",
            message=(
                S.selection_text + ". They go back to the profile list with their "
                "identities, tags and memberships; their links to accounts, opportunities, "
                "tickets and tasks do not come back."
            ),
            is_open=S.confirm_open,
            on_open_change=S.set_confirm_open,
            on_confirm=S.restore,
            confirm_label="Restore",
        ),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.TRASH, title=TITLE)
