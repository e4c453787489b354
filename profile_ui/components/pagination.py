"""Pager for server-side pages: the total, previous/next, page N of M, rows per page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

PAGE_SIZE_CHOICES = ("25", "50", "100")


def pagination(
    *,
    page: rx.Var,
    pages: rx.Var,
    total_text: rx.Var,
    page_size: rx.Var,
    on_page: Callable[[Any], Any],
    on_page_size: Callable[[Any], Any],
) -> rx.Component:
    """`page`/`pages` are 1-based ints; `on_page(n)` goes to page n; `on_page_size(str)`."""
    return rx.el.nav(
        rx.hstack(
            rx.text(total_text, size="2", weight="medium", role="status"),
            rx.spacer(),
            rx.hstack(
                rx.text("Rows per page", size="2", as_="span", id="rows-per-page-label"),
                rx.select.root(
                    rx.select.trigger(aria_labelledby="rows-per-page-label"),
                    rx.select.content(*[rx.select.item(n, value=n) for n in PAGE_SIZE_CHOICES]),
                    value=page_size.to_string(),
                    on_change=on_page_size,
                    size="1",
                ),
                align="center",
                spacing="2",
            ),
            rx.icon_button(
                rx.icon("chevron_left", size=16, aria_hidden="true"),
                on_click=on_page(page - 1),
                disabled=page <= 1,
                variant="soft",
                size="1",
                aria_label="Previous page",
            ),
            rx.text(f"Page {page} of {pages}", size="2"),
            rx.icon_button(
                rx.icon("chevron_right", size=16, aria_hidden="true"),
                on_click=on_page(page + 1),
                disabled=page >= pages,
                variant="soft",
                size="1",
                aria_label="Next page",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        aria_label="Pages",
        style={"width": "100%"},
    )
