"""A list page's filter bar: a search form (role "search"; uncontrolled, so the browser
keeps what is typed and the submit sends it all at once; a new `key` clears it) and the
labelled filters, search box and Reset button the list pages share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from .dialogs import field_label, labelled_select


def search_form(
    *children: rx.Component, on_submit: Callable[[Any], Any], key: rx.Var, aria_label: str, **props: Any
) -> rx.Component:
    return rx.form(
        *children, on_submit=on_submit, reset_on_submit=False, key=key, aria_label=aria_label, role="search", **props
    )


def filter_row(*controls: rx.Component) -> rx.Component:
    """Labelled filters side by side (wrapping), their controls on one line."""
    return rx.flex(*controls, wrap="wrap", spacing="3", align="end")


def search_input(*, default_value: rx.Var, placeholder: str, aria_label: str, **props: Any) -> rx.Component:
    """The free-text box (sent as `q`), with a search icon."""
    return rx.input(
        rx.input.slot(rx.icon("search", size=16, aria_hidden="true")),
        name="q",
        default_value=default_value,
        type="search",
        placeholder=placeholder,
        aria_label=aria_label,
        **props,
    )


def filter_select(
    label: str, *, name: str, id: str, choices: rx.Var, default_value: rx.Var, min_width: str = "170px"
) -> rx.Component:
    return rx.box(
        labelled_select(label, name=name, id=id, item_var=choices, default_value=default_value), min_width=min_width
    )


def filter_input(label: str, *, name: str, id: str, default_value: rx.Var, **props: Any) -> rx.Component:
    return rx.vstack(
        field_label(label, html_for=id),
        rx.input(id=id, name=name, default_value=default_value, **props),
        spacing="1",
    )


def reset_button(on_click: Callable[[], Any]) -> rx.Component:
    return rx.button(
        rx.icon("rotate_ccw", size=16, aria_hidden="true"),
        "Reset",
        type="button",
        variant="soft",
        color_scheme="gray",
        on_click=on_click,
    )
