"""What the settings tabs share: the tab base state (one change = one service call in
one transaction, with the refusal or bad input shown as a toast) and small widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from ...db import session_scope
from ...services.permissions import Actor
from ...services.users import UserError
from ...services.workspace_settings.common import SettingsError
from ...state.base import AppState

# what a settings service raises for input an admin can fix (the message says what)
SETTINGS_INPUT_ERRORS = (SettingsError, UserError)


class SettingsTabState(AppState):
    """Base of each settings tab's state. `_change` runs one service call and reloads the
    tab; `_reload` (each tab's own) reads what the tab shows."""

    # the add forms' key: a successful change empties them, a refused one keeps the input
    form_key: int = 0

    def _reload(self, session: Any, actor: Actor) -> None:  # pragma: no cover - per tab
        raise NotImplementedError

    def _load_tab(self) -> None:
        actor = self._require_actor()
        with session_scope() as session:
            self._reload(session, actor)

    def _change(self, change: Callable[[Any, Actor], Any], done: str) -> Any:
        """Run `change(session, actor)`; a toast says it worked or why not."""
        actor = self._require_actor()
        try:
            with session_scope() as session:
                change(session, actor)
        except SETTINGS_INPUT_ERRORS as exc:
            return rx.toast.error(str(exc))
        with session_scope() as session:
            self._reload(session, actor)
        self.form_key += 1
        return rx.toast.success(done)


def form_checkbox(label: str | rx.Var, name: str | rx.Var, default_checked: bool = False) -> rx.Component:
    """A checkbox inside a form: its name is sent as "on" when ticked (label and name may be
    Vars, for a list of checkboxes drawn with rx.foreach)."""
    return rx.el.label(
        rx.el.input(
            type="checkbox",
            name=name,
            default_checked=default_checked,
            style={"width": "16px", "height": "16px", "margin": 0},
        ),
        rx.text(label, size="2"),
        style={"display": "inline-flex", "alignItems": "center", "gap": "6px"},
    )


def ticked(form_data: dict[str, Any], name: str) -> bool:
    return str(form_data.get(name) or "").lower() in ("on", "true", "1", "yes")


def form_text(form_data: dict[str, Any], name: str, default: str = "") -> str:
    """A form's text input as sent (the services trim and check it)."""
    return str(form_data.get(name) or default)


def tab_intro(text: str) -> rx.Component:
    return rx.text(text, size="2", color_scheme="gray")


def add_form(title: str, *controls: rx.Component, on_submit: Any, submit_label: str) -> rx.Component:
    """A small form under a list: fields in a row, then the submit button."""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(title, size="2", as_="h3"),
                rx.flex(*controls, rx.button(submit_label, type="submit"), wrap="wrap", spacing="3", align="end"),
                spacing="2",
                width="100%",
            ),
            on_submit=on_submit,
            reset_on_submit=False,
            key=SettingsTabState.form_key,
            aria_label=title,
        ),
        width="100%",
    )


def text_field(
    label: str, name: str, *, id: str, placeholder: str = "", width: str = "220px", **props: Any
) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id, style={"fontWeight": 500, "fontSize": "14px"}),
        rx.input(id=id, name=name, placeholder=placeholder, width=width, **props),
        spacing="1",
    )


def native_select(
    label: str,
    name: str,
    *,
    id: str,
    options: list[tuple[str, str]] | None = None,
    option_var: rx.Var | None = None,
    default: str | rx.Var = "",
    on_change: Any = None,
    value: rx.Var | None = None,
) -> rx.Component:
    """A plain <select> (inside forms and in table rows, where a popup list is too heavy)."""
    if option_var is not None:
        children = rx.foreach(option_var, lambda o: rx.el.option(o.label, value=o.value))
    else:
        children = rx.fragment(*[rx.el.option(text, value=v) for v, text in options or []])
    props: dict[str, Any] = {"id": id, "name": name}
    if value is not None:
        props["value"] = value
    else:
        props["default_value"] = default
    if on_change is not None:
        props["on_change"] = on_change
    return rx.vstack(
        rx.el.label(label, html_for=id, style={"fontWeight": 500, "fontSize": "14px"}),
        rx.el.select(
            children,
            **props,
            style={
                "height": "32px",
                "padding": "0 8px",
                "borderRadius": "6px",
                "border": f"1px solid {rx.color('gray', 7)}",
                "background": rx.color("gray", 1),
            },
        ),
        spacing="1",
    )


def settings_table(
    headers: tuple[str, ...],
    rows: rx.Var | list[Any],
    render: Callable[[Any], rx.Component],
    *,
    full_width: bool = True,
) -> rx.Component:
    """A tab's list: one header row, then `render(row)` for each of `rows` (a list var of
    the tab's state; mypy sees a state's var as its value's type, hence the list)."""
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, render)),
        size="1",
        variant="surface",
        **({"width": "100%"} if full_width else {}),
    )


def delete_button(label: str | rx.Var, on_click: Any) -> rx.Component:
    """The red bin button at the end of a row; `label` names what it deletes."""
    return rx.icon_button(
        rx.icon("trash_2", size=14, aria_hidden="true"),
        size="1",
        variant="ghost",
        color_scheme="red",
        on_click=on_click,
        aria_label=label,
    )
