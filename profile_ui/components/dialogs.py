"""Dialogs: a form in a modal dialog (OK submits the form, Cancel / Esc close it), and
labelled form controls shared by dialogs and pages.

Controls are uncontrolled (the browser holds what is typed; the form's submit event
sends it all at once), so typing costs no server round trips. Labels are real <label>s
bound by id, so tests and screen readers find each control by its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

LABEL_STYLE = {"fontWeight": 500, "fontSize": "14px"}


def required_mark() -> rx.Component:
    return rx.el.span(" *", aria_hidden="true", style={"color": rx.color("red", 10)})


def field_label(label: rx.Var | str, *, html_for: rx.Var | str, required: rx.Var | bool = False) -> rx.Component:
    """A control's visible <label> (with a red * when `required`)."""
    mark = (
        required_mark()
        if required is True
        else (rx.cond(required, required_mark()) if isinstance(required, rx.Var) else rx.fragment())
    )
    return rx.el.label(label, mark, html_for=html_for, style=LABEL_STYLE)


def error_callout(error: rx.Var | str, **props: Any) -> rx.Component:
    """A dialog's or page's error (announced when it appears); nothing while it is ""."""
    return rx.cond(error != "", rx.callout(error, icon="triangle_alert", color_scheme="red", role="alert", **props))


def dialog_buttons(confirm: rx.Component, *, close: Any = rx.dialog.close, **props: Any) -> rx.Component:
    """A dialog's footer, at the right: Cancel (closes the dialog) and `confirm`."""
    return rx.hstack(
        close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
        confirm,
        justify="end",
        spacing="3",
        width="100%",
        **props,
    )


def field_error(message: rx.Var | str, *, id: str | None = None) -> rx.Component:
    """An inline error under a control (announced when it appears)."""
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="1", role="alert", id=id),
    )


def labelled_input(
    label: rx.Var | str,
    *,
    name: rx.Var | str,
    id: rx.Var | str,
    default_value: rx.Var | str = "",
    error: rx.Var | str = "",
    required: rx.Var | bool = False,
    hint: str = "",
    **props: Any,
) -> rx.Component:
    return rx.vstack(
        field_label(label, html_for=id, required=required),
        rx.input(
            id=id,
            name=name,
            default_value=default_value,
            width="100%",
            aria_required=rx.cond(required, "true", "false"),
            aria_invalid=rx.cond(error != "", "true", "false"),
            **props,
        ),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(error),
        spacing="1",
        width="100%",
    )


def labelled_select(
    label: rx.Var | str,
    *,
    name: str,
    id: str,
    items: list[tuple[str, str]] | None = None,
    item_var: rx.Var | None = None,
    default_value: rx.Var | str | None = None,
    value: rx.Var | None = None,
    on_change: Callable[[Any], Any] | None = None,
    placeholder: str = "Choose…",
) -> rx.Component:
    """A Radix select labelled by a visible label; `items` as (value, label) pairs or
    `item_var`: a Var list of objects with .value and .label."""
    if item_var is not None:
        options = rx.foreach(item_var, lambda c: rx.select.item(c.label, value=c.value))
    else:
        options = rx.fragment(*[rx.select.item(text, value=v) for v, text in items or []])
    props: dict[str, Any] = {"name": name}
    if value is not None:
        props["value"] = value
    elif default_value is not None:
        props["default_value"] = default_value
    if on_change is not None:
        props["on_change"] = on_change
    return rx.vstack(
        rx.el.label(label, id=f"{id}-label", style=LABEL_STYLE),
        rx.select.root(
            rx.select.trigger(placeholder=placeholder, aria_labelledby=f"{id}-label", id=id, width="100%"),
            rx.select.content(options),
            **props,
        ),
        spacing="1",
        width="100%",
    )


def form_dialog(
    *,
    title: rx.Var | str,
    body: rx.Component,
    is_open: rx.Var,
    on_open_change: Callable[[Any], Any],
    on_submit: Callable[[Any], Any],
    submit_label: rx.Var | str = "OK",
    description: rx.Var | str = "",
    note: rx.Var | str | None = None,
    danger: bool = False,
    error: rx.Var | str = "",
    max_width: str = "520px",
    form_key: rx.Var | str | None = None,
) -> rx.Component:
    """A modal dialog around a form. Closing (Cancel, Esc, outside click) calls
    `on_open_change(False)`; OK submits the form to `on_submit(form_data)`. A `note` is a
    warning shown as the dialog's description; `danger` makes OK red."""
    if note is not None:
        intro = rx.dialog.description(
            rx.callout(note, icon="triangle_alert", color_scheme="orange", size="1"), as_child=True
        )
    else:
        intro = rx.cond(description != "", rx.dialog.description(description, size="2", color_scheme="gray"))
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            intro,
            rx.form(
                rx.vstack(
                    body,
                    error_callout(error, width="100%"),
                    dialog_buttons(rx.button(submit_label, type="submit", color_scheme="red" if danger else None)),
                    spacing="4",
                    width="100%",
                    **({"margin_top": "1em"} if note is not None else {}),
                ),
                on_submit=on_submit,
                reset_on_submit=False,
                key=form_key,
            ),
            max_width=max_width,
        ),
        open=is_open,
        on_open_change=on_open_change,
    )


def confirm_dialog(
    *,
    title: rx.Var | str,
    message: rx.Var | str,
    is_open: rx.Var,
    on_open_change: Callable[[Any], Any],
    on_confirm: Any,
    confirm_label: str,
    danger: bool = False,
) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(message),
            dialog_buttons(
                rx.alert_dialog.action(
                    rx.button(confirm_label, on_click=on_confirm, color_scheme="red" if danger else None)
                ),
                close=rx.alert_dialog.cancel,
                margin_top="1em",
            ),
        ),
        open=is_open,
        on_open_change=on_open_change,
    )
