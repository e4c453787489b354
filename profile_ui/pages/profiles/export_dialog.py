"""Export from the profile list: the Export button and its dialog (issue #6).

list.py places `export_button()` in its toolbar and `export_dialog()` beside the other
dialogs. The dialog exports the selected profiles when some are selected, else the
list's query and filters; it shows how many profiles, the columns, and the columns left
out because the user's role may not export them, before the user confirms.
"""

from __future__ import annotations

import reflex as rx

from ...components.dialogs import dialog_buttons, error_callout
from ...state.base import AppState
from .common import PROFILES_EXPORT
from .export_state import FIELDS_LABELS, FORMAT_LABELS, ExportDialogState

S = ExportDialogState


def export_button() -> rx.Component:
    return rx.cond(
        AppState.permissions.contains(PROFILES_EXPORT),
        rx.button(rx.icon("download", size=16, aria_hidden="true"), "Export", variant="soft", on_click=S.open_dialog),
    )


def _choice(legend: str, items: list[str], value: rx.Var, on_change: rx.EventHandler) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(legend, size="2", weight="bold")),
        rx.radio_group(items, value=value, on_change=on_change, direction="row", spacing="4", aria_label=legend),
        style={"border": "none", "padding": 0, "margin": 0},
    )


def _left_out() -> rx.Component:
    return rx.cond(
        S.left_out.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("eye_off", aria_hidden="true")),
            rx.vstack(
                rx.callout.text("Left out of the file:", weight="medium"),
                rx.el.ul(
                    rx.foreach(S.left_out, lambda line: rx.el.li(line)), style={"margin": 0, "paddingLeft": "1.2em"}
                ),
                spacing="1",
            ),
            color_scheme="amber",
            role="note",
            aria_label="Columns left out",
        ),
    )


def export_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Export profiles"),
            rx.dialog.description(S.scope_text, size="2", color_scheme="gray"),
            rx.vstack(
                _choice("Fields", list(FIELDS_LABELS.values()), S.fields_label, S.set_fields),
                _choice("Format", list(FORMAT_LABELS.values()), S.format_label, S.set_format),
                rx.text(S.count_text, weight="medium", role="status", aria_label="Export size"),
                rx.cond(
                    S.columns.length() > 0,
                    rx.text(
                        "Columns: ", S.columns_text, size="2", color_scheme="gray", aria_label="Columns of the file"
                    ),
                ),
                _left_out(),
                rx.cond(
                    S.background & (S.error == ""), rx.callout(S.background_text, icon="clock", color_scheme="blue")
                ),
                error_callout(S.error),
                dialog_buttons(
                    rx.button(
                        rx.icon("download", size=16, aria_hidden="true"),
                        rx.cond(S.background, "Export in the background", "Export"),
                        on_click=S.confirm,
                        disabled=(S.error != "") | (S.count == 0),
                    )
                ),
                spacing="4",
                width="100%",
                margin_top="1em",
            ),
            max_width="640px",
        ),
        open=S.is_open,
        on_open_change=S.set_open,
    )
