"""An attribute that can be edited where it is shown.

Hovering (or focusing) the row shows an edit icon button named "Edit <label>"; it turns
the value into an input. Enter or leaving the input saves, Esc cancels; an error stays
under the input until the value is fixed or the edit is cancelled. A value saved by hand
is locked against imports: a lock icon says so, and admins get an unlock button.

The page state decides everything (which key is being edited, the error): the handlers
passed in receive the field key first, except `on_submit(form_data)`, which finds it
under "field_key".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import reflex as rx

LOCKED_LABEL = "Locked: imports won't change it"
_BUTTON_CLASS = "inline-edit-button"


@dataclasses.dataclass
class EditableField:
    """One attribute on the User 360 page, as the browser sees it."""

    key: str
    label: str
    display: str  # as read
    raw: str  # as typed into the editor (round-trips through the service's parser)
    type: str
    options: list[str]
    locked: bool
    section: str
    hint: str = ""


def lock_icon() -> rx.Component:
    return rx.tooltip(
        rx.box(
            rx.icon("lock", size=14, aria_hidden="true"),
            role="img",
            aria_label=LOCKED_LABEL,
            display="inline-flex",
            color=rx.color("amber", 10),
        ),
        content=LOCKED_LABEL,
        delay_duration=200,
    )


def _editor(
    field: EditableField,
    *,
    error: rx.Var,
    on_submit: Callable[..., Any],
    on_blur: Callable[..., Any],
    on_key: Callable[..., Any],
) -> rx.Component:
    list_id = "choices-" + field.key
    return rx.form(
        rx.vstack(
            rx.input(
                name="value",
                default_value=field.raw,
                auto_focus=True,
                aria_label=field.label,
                aria_invalid=rx.cond(error != "", "true", "false"),
                placeholder=field.hint,
                on_blur=lambda value: on_blur(field.key, value),
                on_key_down=lambda key: on_key(field.key, key),
                # a list of suggestions only for choice fields (it makes the input a combobox)
                custom_attrs={"list": rx.cond(field.options.length() > 0, list_id, None), "autoComplete": "off"},
                size="1",
                width="100%",
            ),
            rx.el.datalist(rx.foreach(field.options, lambda option: rx.el.option(value=option)), id=list_id),
            rx.cond(error != "", rx.text(error, color_scheme="red", size="1", role="alert")),
            # the form's submit handler is compiled once for all rows (outside the loop),
            # so the row's key travels in the form data
            rx.el.input(type="hidden", name="field_key", value=field.key),
            spacing="1",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        width="100%",
    )


def _reader(
    field: EditableField,
    *,
    can_edit: rx.Var,
    can_unlock: rx.Var,
    on_start: Callable[..., Any],
    on_unlock: Callable[..., Any],
) -> rx.Component:
    return rx.hstack(
        rx.cond(
            field.display != "",
            rx.text(field.display, size="2", title=field.display, overflow="hidden", text_overflow="ellipsis"),
            rx.text("—", size="2", color_scheme="gray", aria_label="empty"),
        ),
        rx.cond(field.locked, lock_icon()),
        rx.cond(
            can_edit,
            rx.icon_button(
                rx.icon("pencil", size=12, aria_hidden="true"),
                size="1",
                variant="ghost",
                aria_label="Edit " + field.label,
                on_click=on_start(field.key),
                class_name=_BUTTON_CLASS,
            ),
        ),
        rx.cond(
            field.locked & can_unlock,
            rx.icon_button(
                rx.icon("lock_open", size=12, aria_hidden="true"),
                size="1",
                variant="ghost",
                color_scheme="amber",
                aria_label="Unlock " + field.label,
                on_click=on_unlock(field.key),
                class_name=_BUTTON_CLASS,
            ),
        ),
        align="center",
        spacing="2",
        min_height="24px",
    )


def inline_field(
    field: EditableField,
    *,
    editing_key: rx.Var,
    error: rx.Var,
    can_edit: rx.Var,
    can_unlock: rx.Var,
    on_start: Callable[..., Any],
    on_submit: Callable[..., Any],
    on_blur: Callable[..., Any],
    on_key: Callable[..., Any],
    on_unlock: Callable[..., Any],
) -> rx.Component:
    """A row of an attribute table (see attribute_table): the label as its row header,
    then the value or its editor, so a screen reader lists and reads the rows by name."""
    return rx.el.tr(
        rx.el.th(rx.text(field.label, size="2", color_scheme="gray"), scope="row", style=_HEADER_STYLE),
        rx.el.td(
            rx.cond(
                editing_key == field.key,
                _editor(field, error=error, on_submit=on_submit, on_blur=on_blur, on_key=on_key),
                _reader(field, can_edit=can_edit, can_unlock=can_unlock, on_start=on_start, on_unlock=on_unlock),
            ),
            style={"padding": "4px 6px", "minWidth": 0},
        ),
        style={
            f"& .{_BUTTON_CLASS}": {"opacity": 0},
            f"&:hover .{_BUTTON_CLASS}, &:focus-within .{_BUTTON_CLASS}": {"opacity": 1},
            "&:hover": {"background": rx.color("gray", 2)},
        },
    )


_HEADER_STYLE = {
    "width": "140px",
    "textAlign": "left",
    "fontWeight": "normal",
    "padding": "4px 6px",
    "verticalAlign": "middle",
}


def attribute_table(name: str | rx.Var, *rows: rx.Component) -> rx.Component:
    """Named table of attribute rows (inline_field or attribute_row), no column headers."""
    return rx.el.table(
        rx.el.tbody(*rows),
        aria_label=name,
        style={"width": "100%", "borderCollapse": "collapse", "tableLayout": "fixed"},
    )


def attribute_row(label: str, value: rx.Component) -> rx.Component:
    """A read-only row of an attribute table."""
    return rx.el.tr(
        rx.el.th(rx.text(label, size="2", color_scheme="gray"), scope="row", style=_HEADER_STYLE),
        rx.el.td(value, style={"padding": "4px 6px"}),
    )
