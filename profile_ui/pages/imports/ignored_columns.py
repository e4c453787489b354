"""On the preview (where the import is confirmed): the columns whose data will not be
imported, each with a field to import it into or "Import as a new custom field". State:
ignored_columns_state.py."""

from __future__ import annotations

from typing import Any

import reflex as rx

from .ignored_columns_state import IGNORE, MEMBERSHIP_STATUS_NOTE, NEW_FIELD


def _ignored_line(state: Any, line: Any) -> rx.Component:
    return rx.cond(
        (line.target == IGNORE) & (line.suggested != MEMBERSHIP_STATUS_NOTE),
        rx.el.li(
            rx.hstack(
                rx.text(rx.text.strong(line.header), rx.cond(line.samples != "", f" (for example {line.samples})", "")),
                rx.el.select(
                    rx.el.option("Import into a field…", value=""),
                    rx.foreach(
                        state.target_choices,
                        lambda c: rx.cond(
                            (c.value != IGNORE) & (c.value != NEW_FIELD), rx.el.option(c.label, value=c.value)
                        ),
                    ),
                    value="",
                    aria_label=f"Import {line.header} into",
                    on_change=lambda target: state.map_ignored_column(line.header, target),
                ),
                rx.button(
                    "Import as a new custom field",
                    size="1",
                    variant="soft",
                    aria_label=f"Import {line.header} as a new custom field",
                    on_click=state.map_ignored_column(line.header, NEW_FIELD),
                ),
                align="center",
                wrap="wrap",
            )
        ),
    )


def ignored_columns(state: Any) -> rx.Component:
    return rx.cond(
        state.ignored_count > 0,
        rx.callout.root(
            rx.vstack(
                rx.heading("Columns that will not be imported", size="3", as_="h3"),
                rx.text("Their data is left out of this import unless you import them here:", size="2"),
                rx.el.ul(
                    rx.foreach(state.lines, lambda line: _ignored_line(state, line)),
                    aria_label="Columns that will not be imported",
                ),
                spacing="2",
                align="start",
            ),
            color_scheme="amber",
            width="100%",
        ),
    )
