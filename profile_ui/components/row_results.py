"""The row-results viewer of an import job (state/row_results.py's RowResultsMixin): the
"Show rows" outcome select, the error file button, the table of rows and its pager. The
import detail page shows it with each row's profile link; the wizard's dry-run preview
without (no profile exists yet)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ..state.row_results import OUTCOME_CHOICES, ResultRow
from .table_caption import hidden_caption


def _row(row: ResultRow, with_profile: bool) -> rx.Component:
    profile = [rx.table.cell(rx.cond(row.profile != "", rx.link(row.profile, href="/profiles/" + row.profile)))]
    return rx.table.row(
        rx.table.row_header_cell(row.row),
        rx.table.cell(rx.badge(row.outcome)),
        *(profile if with_profile else []),
        rx.table.cell(rx.text(row.changes, size="2")),
        rx.table.cell(rx.text(row.reasons, size="2", color_scheme="red")),
    )


def outcome_select(state: Any, select_id: str, *extra: rx.Component) -> rx.Component:
    """ "Show rows" (every outcome or one), followed by `extra` controls on the same line."""
    return rx.hstack(
        rx.el.label("Show rows", html_for=select_id),
        rx.el.select(
            *[rx.el.option(o.capitalize(), value=o) for o in OUTCOME_CHOICES],
            id=select_id,
            value=state.result_outcome,
            on_change=state.set_result_outcome,
        ),
        *extra,
        align="center",
        spacing="3",
    )


def error_file_button(state: Any, shown: Any) -> rx.Component:
    return rx.cond(shown, rx.button("Download the error file", variant="soft", on_click=state.download_errors))


def row_results_table(state: Any, *, name: str, with_profile: bool) -> rx.Component:
    """The page of rows (a table named `name`) and its pager."""
    headers = ("Row", "Outcome", *(("Profile",) if with_profile else ()), "Changes", "Reasons")
    return rx.vstack(
        rx.table.root(
            hidden_caption(name),
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(state.result_rows, lambda row: _row(row, with_profile))),
            width="100%",
        ),
        rx.hstack(
            rx.button(
                "Previous page",
                size="1",
                variant="soft",
                disabled=state.result_page <= 1,
                on_click=state.set_result_page(state.result_page - 1),
            ),
            rx.text(f"Page {state.result_page} of {state.result_pages} ({state.result_count_text})", size="2"),
            rx.button(
                "Next page",
                size="1",
                variant="soft",
                disabled=state.result_page >= state.result_pages,
                on_click=state.set_result_page(state.result_page + 1),
            ),
            align="center",
        ),
        spacing="3",
        width="100%",
        align="start",
    )
