"""A table of one page of rows: sortable column headers, optional row selection, and the
first column linking to each row's page.

The rows are already one page (server-side paging: see components/pagination.py): each
row is a dict of display texts keyed by column key, plus "id", "_title" (how the row is
named to a screen reader) and "_href" (where its first cell links to).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import reflex as rx

from .empty_state import no_rows
from .table_caption import hidden_caption


@dataclasses.dataclass
class TableColumn:
    """A column as the browser sees it."""

    key: str
    label: str
    sortable: bool = False


def _sort_icon(column: TableColumn, sort_key: rx.Var, descending: rx.Var) -> rx.Component:
    return rx.cond(
        sort_key == column.key,
        rx.cond(
            descending,
            rx.icon("arrow_down", size=14, aria_hidden="true"),
            rx.icon("arrow_up", size=14, aria_hidden="true"),
        ),
        rx.icon("arrow_up_down", size=14, aria_hidden="true", opacity="0.35"),
    )


def _header_cell(
    column: TableColumn, sort_key: rx.Var, descending: rx.Var, on_sort: Callable[[Any], Any]
) -> rx.Component:
    return rx.table.column_header_cell(
        rx.cond(
            column.sortable,
            rx.button(
                column.label,
                _sort_icon(column, sort_key, descending),
                on_click=on_sort(column.key),
                variant="ghost",
                size="1",
                color_scheme="gray",
                high_contrast=True,
                aria_label="Sort by " + column.label,
            ),
            rx.text(column.label, size="1", weight="medium"),
        ),
        aria_sort=rx.cond(sort_key == column.key, rx.cond(descending, "descending", "ascending"), "none"),
        white_space="nowrap",
    )


def _cell(row: rx.Var, column: TableColumn, index: rx.Var) -> rx.Component:
    text = row[column.key].to(str)
    return rx.table.cell(
        rx.cond(
            index == 0,
            rx.link(rx.cond(text != "", text, row["_title"]), href=row["_href"]),
            rx.text(
                text, title=text, max_width="260px", overflow="hidden", text_overflow="ellipsis", white_space="nowrap"
            ),
        ),
    )


def data_table(
    *,
    columns: rx.Var,
    rows: rx.Var,
    sort_key: rx.Var,
    descending: rx.Var,
    on_sort: Callable[[Any], Any],
    caption: str,
    selectable: rx.Var | bool = False,
    selected: rx.Var | None = None,
    on_select_row: Callable[[Any, Any], Any] | None = None,
    page_selected: rx.Var | None = None,
    on_select_page: Callable[[Any], Any] | None = None,
) -> rx.Component:
    """`columns`: list[TableColumn]; `rows`: list[dict[str, str]] (see the module doc).

    With `selectable`, a checkbox column selects rows (`selected`: list of row ids) and the
    header checkbox selects the whole page.
    """
    select_header = (
        rx.table.column_header_cell(
            rx.checkbox(checked=page_selected, on_change=on_select_page, aria_label="Select all rows on this page"),
            width="36px",
        )
        if on_select_page is not None
        else rx.fragment()
    )

    def render_row(row: rx.Var) -> rx.Component:
        select_cell = (
            rx.table.cell(
                rx.checkbox(
                    checked=selected.contains(row["id"]),
                    on_change=lambda checked: on_select_row(row["id"], checked),
                    aria_label="Select " + row["_title"].to(str),
                ),
            )
            if on_select_row is not None
            else rx.fragment()
        )
        return rx.table.row(
            rx.cond(selectable, select_cell),
            rx.foreach(columns, lambda column, index: _cell(row, column, index)),
        )

    return rx.table.root(
        hidden_caption(caption),
        rx.table.header(
            rx.table.row(
                rx.cond(selectable, select_header),
                rx.foreach(columns, lambda column: _header_cell(column, sort_key, descending, on_sort)),
            ),
        ),
        rx.table.body(rx.foreach(rows, render_row)),
        variant="surface",
        size="1",
        width="100%",
    )


def lines_table(
    *, caption: str, header: list[rx.Component], lines: rx.Var, line: Callable[[Any], rx.Component], empty: str
) -> rx.Component:
    """A page of plain lines (dataclasses rendered by `line`) under the `header` cells, named
    `caption` for screen readers; the text `empty` when there are none."""
    return rx.cond(
        lines.length() > 0,
        rx.table.root(
            hidden_caption(caption),
            rx.table.header(rx.table.row(*header)),
            rx.table.body(rx.foreach(lines, line)),
            variant="surface",
            size="1",
            width="100%",
        ),
        no_rows(empty),
    )
