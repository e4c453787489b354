"""Tags shown as chips: "Group: Tag = value", cut with an ellipsis (full text on hover),
and an optional remove button per chip."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import reflex as rx


@dataclasses.dataclass
class TagChip:
    """One tag value on a profile, as the browser sees it."""

    tag_id: int
    group: str
    name: str
    value: str
    text: str  # "Group: Tag = value" (or without "= value")
    detail: str  # source / policy, for the tooltip


def tag_chip(
    chip: TagChip, on_remove: Callable[[Any, Any], Any] | None = None, can_remove: rx.Var | bool = False
) -> rx.Component:
    remove = (
        rx.cond(
            can_remove,
            rx.icon_button(
                rx.icon("x", size=12, aria_hidden="true"),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=on_remove(chip.tag_id, chip.value),
                aria_label="Remove tag " + chip.text,
            ),
        )
        if on_remove is not None
        else rx.fragment()
    )
    return rx.el.li(
        rx.tooltip(
            rx.badge(
                rx.text(
                    chip.text,
                    max_width="220px",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                    as_="span",
                ),
                remove,
                variant="soft",
                size="2",
                radius="full",
            ),
            content=chip.text + " · " + chip.detail,
            delay_duration=200,
        ),
        list_style="none",
    )


def tag_chips(
    chips: rx.Var,
    *,
    label: str,
    on_remove: Callable[[Any, Any], Any] | None = None,
    can_remove: rx.Var | bool = False,
    empty_text: str = "No tags yet.",
) -> rx.Component:
    return rx.cond(
        chips.length() > 0,
        rx.el.ul(
            rx.foreach(chips, lambda chip: tag_chip(chip, on_remove, can_remove)),
            aria_label=label,
            style={"display": "flex", "flexWrap": "wrap", "gap": "6px", "padding": 0, "margin": 0},
        ),
        rx.text(empty_text, color_scheme="gray", size="2"),
    )
