"""Audit log (/audit): every recorded action, filtered by actor, action, object and date
range, paged, and exported as CSV. State: audit_state.py."""

from __future__ import annotations

from typing import Any

import reflex as rx

from .. import routes
from ..components.data_table import lines_table
from ..components.filter_bar import (
    filter_input,
    filter_row,
    filter_select,
    reset_button,
    search_form,
)
from ..components.pagination import pagination
from ..components.shell import shell
from .audit_state import AuditState, EventLine
from .profiles.common import ANY
from .profiles.merge_dialog import undo_merge_button, unmerge_dialog

TITLE = "Audit log"
S = AuditState
HEADERS = ("When (UTC)", "Actor", "Action", "Object", "Reason", "Details")


def _select(label: str, name: str, choices: rx.Var) -> rx.Component:
    shown = rx.cond(S.filters[name] != "", S.filters[name], ANY)
    return filter_select(label, name=name, id=f"audit-{name}", choices=choices, default_value=shown, min_width="180px")


def _input(label: str, name: str, **props: Any) -> rx.Component:
    return filter_input(label, name=name, id=f"audit-{name}", default_value=S.filters[name], **props)


def filter_form() -> rx.Component:
    return search_form(
        filter_row(
            _select("Actor", "actor", S.actor_choices),
            _select("Action", "action", S.action_choices),
            _select("Object type", "object_type", S.object_type_choices),
            _input("Object ID", "object_id", placeholder="e.g. 42", width="120px"),
            _input("From", "since", type="date"),
            _input("To", "until", type="date"),
            rx.hstack(
                rx.button(rx.icon("filter", size=16, aria_hidden="true"), "Apply filters", type="submit"),
                reset_button(S.reset_filters),
                spacing="2",
            ),
        ),
        on_submit=S.apply_filters,
        key=S.form_version,
        aria_label="Filter the audit log",
        width="100%",
    )


def _line(line: EventLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line.when, white_space="nowrap"),
        # long e-mails and object names wrap: a wider table would scroll sideways in a region
        # a keyboard cannot reach (axe: scrollable-region-focusable)
        rx.table.cell(line.actor, style={"overflowWrap": "anywhere"}),
        rx.table.cell(
            rx.vstack(rx.code(line.action, variant="ghost"), undo_merge_button(line.action, line.id), spacing="1"),
            style={"overflowWrap": "anywhere"},
        ),
        rx.table.cell(line.object, style={"overflowWrap": "anywhere"}),
        rx.table.cell(rx.text(line.reason, size="2", max_width="260px")),
        rx.table.cell(
            rx.text(line.details, size="1", color_scheme="gray", max_width="420px", style={"overflowWrap": "anywhere"})
        ),
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Every change is recorded here and cannot be edited or removed.", size="2", color_scheme="gray"),
            rx.spacer(),
            rx.button(
                rx.icon("download", size=16, aria_hidden="true"), "Export CSV", variant="soft", on_click=S.export_csv
            ),
            align="center",
            width="100%",
        ),
        filter_form(),
        lines_table(
            caption="Audit events",
            header=[rx.table.column_header_cell(h) for h in HEADERS],
            lines=S.lines,
            line=_line,
            empty="No events match.",
        ),
        pagination(
            page=S.page,
            pages=S.pages,
            total_text=S.total_text,
            page_size=S.page_size,
            on_page=S.go_to_page,
            on_page_size=S.set_page_size,
        ),
        unmerge_dialog(),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.AUDIT, title=TITLE)
