"""/profiles: the profile list (query box, filters, sortable columns, pages, Column
display, selection with Batch tag and Add to group)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ... import routes
from ...components.data_table import data_table
from ...components.dialogs import form_dialog, labelled_select
from ...components.empty_state import no_rows
from ...components.filter_bar import (
    filter_input,
    filter_row,
    filter_select,
    reset_button,
    search_form,
    search_input,
)
from ...components.pagination import pagination
from ...components.shell import shell
from ...state.base import AppState
from .columns_state import ColumnChoice, ColumnDisplayState
from .common import (
    PROFILES_CREATE,
    PROFILES_DELETE,
    PROFILES_EDIT,
    PROFILES_EXPORT,
    PROFILES_TAG,
    SETTINGS_MANAGE,
)
from .delete_dialog import delete_selected_button, delete_selected_dialog
from .export_dialog import export_button, export_dialog
from .filter_chips import STATUS_LABELS, active_filters
from .list_state import ProfilesListState
from .merge_dialog import merge_dialog, merge_selected_button
from .tag_picker import tag_picker_dialog

TITLE = "Profiles"
S = ProfilesListState
C = ColumnDisplayState


def _filter_select(label: str, name: str, choices: rx.Var, default: rx.Var) -> rx.Component:
    return filter_select(label, name=name, id=f"filter-{name}", choices=choices, default_value=default)


def _filter_input(label: str, name: str, default: rx.Var, **props: Any) -> rx.Component:
    return filter_input(label, name=name, id=f"filter-{name}", default_value=default, **props)


def filter_form() -> rx.Component:
    return search_form(
        rx.vstack(
            rx.hstack(
                search_input(
                    default_value=S.shown_text,
                    placeholder="User ID, e-mail, phone or name",
                    aria_label="User ID, e-mail, phone or name",
                    width="100%",
                    max_width="420px",
                ),
                rx.button(rx.icon("search", size=16, aria_hidden="true"), "Query", type="submit"),
                reset_button(S.reset_filters),
                spacing="2",
                align="center",
                width="100%",
            ),
            filter_row(
                _filter_select("Group", "group", S.group_choices, S.shown_group),
                _filter_select("Member level", "member_level", S.level_choices, S.shown_level),
                _filter_select("Tag", "tag", S.tag_choices, S.shown_tag),
                _filter_input("Tag value", "tag_value", S.shown_tag_value, placeholder="any value"),
                _filter_select("Segment", "segment", S.segment_choices, S.shown_segment),
                rx.box(
                    labelled_select(
                        "Status",
                        name="status",
                        id="filter-status",
                        items=list(STATUS_LABELS.items()),
                        default_value=S.shown_status,
                    ),
                    min_width="140px",
                ),
                _filter_input("Created from", "created_from", S.shown_from, type="date"),
                _filter_input("Created to", "created_to", S.shown_to, type="date"),
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.apply_query,
        key=S.form_version,
        aria_label="Find profiles",
        width="100%",
    )


def _has(permission: str) -> rx.Var:
    return AppState.permissions.contains(permission)


def selection_bar() -> rx.Component:
    return rx.cond(
        S.selection_count > 0,
        rx.hstack(
            rx.text(S.selection_text, size="2", weight="medium", role="status"),
            rx.cond(
                S.page_selected & ~S.all_matching & (S.total > S.rows.length()),
                rx.button(
                    f"Select all {S.total_label} matching", variant="ghost", size="1", on_click=S.select_all_matching
                ),
            ),
            rx.spacer(),
            rx.cond(
                _has(PROFILES_TAG),
                rx.button(
                    rx.icon("tag", size=14, aria_hidden="true"), "Batch tag", size="2", on_click=S.open_tag_picker
                ),
            ),
            rx.cond(
                _has(PROFILES_EDIT),
                rx.button(
                    rx.icon("users", size=14, aria_hidden="true"),
                    "Add to group",
                    size="2",
                    variant="soft",
                    on_click=S.open_group_dialog,
                ),
            ),
            merge_selected_button(),
            delete_selected_button(),
            rx.button("Clear selection", size="2", variant="ghost", color_scheme="gray", on_click=S.clear_selection),
            align="center",
            spacing="3",
            width="100%",
            padding="0.5em 0.75em",
            border_radius="8px",
            background=rx.color("indigo", 3),
            aria_label="Selection",
            role="region",
        ),
    )


def _shown_column(key: rx.Var, index: rx.Var) -> rx.Component:
    label = C.labels[key]
    return rx.el.li(
        rx.hstack(
            rx.text(index + 1, ". ", label, size="2"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("arrow_up", size=12, aria_hidden="true"),
                size="1",
                variant="soft",
                on_click=C.move(key, -1),
                disabled=index == 0,
                aria_label="Move " + label + " up",
            ),
            rx.icon_button(
                rx.icon("arrow_down", size=12, aria_hidden="true"),
                size="1",
                variant="soft",
                on_click=C.move(key, 1),
                disabled=index == C.draft.length() - 1,
                aria_label="Move " + label + " down",
            ),
            align="center",
            spacing="2",
        ),
        list_style="none",
    )


def _column_checkbox(option: ColumnChoice) -> rx.Component:
    # the note beside the checkbox (not in its name): whether the column sorts, and whether
    # the query box searches it while it is shown
    return rx.hstack(
        rx.checkbox(
            option.label,
            checked=C.draft.contains(option.key),
            on_change=lambda shown: C.toggle(option.key, shown),
            size="2",
        ),
        rx.cond(option.note != "", rx.text("(", option.note, ")", size="1", color_scheme="gray")),
        align="center",
        spacing="2",
    )


def _column_group(group: str) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(group, size="2", weight="bold")),
        rx.flex(
            rx.foreach(C.options, lambda o: rx.cond(o.group == group, _column_checkbox(o))),
            wrap="wrap",
            spacing="2",
            direction="column",
        ),
        style={"border": "none", "padding": 0, "margin": 0, "minWidth": "160px"},
    )


def columns_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Column display"),
            rx.dialog.description("Choose the columns of the list and their order.", size="2", color_scheme="gray"),
            rx.grid(
                rx.vstack(
                    rx.heading("Shown, in this order", size="2", as_="h3"),
                    rx.el.ol(
                        rx.foreach(C.draft, _shown_column),
                        aria_label="Shown columns",
                        style={"padding": 0, "margin": 0, "width": "100%"},
                    ),
                    width="100%",
                ),
                rx.hstack(
                    _column_group("Attributes"),
                    _column_group("Identities"),
                    _column_group("Tags"),
                    align="start",
                    spacing="4",
                    wrap="wrap",
                ),
                columns="2",
                spacing="5",
                margin_y="1em",
            ),
            rx.cond(C.error != "", rx.callout(C.error, icon="triangle_alert", color_scheme="red", role="alert")),
            rx.hstack(
                rx.cond(C.source == "user", rx.button("Use the default", variant="ghost", on_click=C.use_default)),
                rx.spacer(),
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.cond(
                    _has(SETTINGS_MANAGE),
                    rx.button("Save as default for everyone", variant="soft", on_click=C.save_default),
                ),
                rx.button("Save", on_click=C.save),
                spacing="3",
                width="100%",
            ),
            max_width="760px",
        ),
        open=C.is_open,
        on_open_change=C.set_open,
    )


def group_dialog() -> rx.Component:
    return form_dialog(
        title="Add to group",
        description=S.selection_text,
        body=labelled_select(
            "Group", name="group", id="add-to-group", item_var=S.group_choices[1:], placeholder="Choose a group"
        ),
        is_open=S.group_dialog_open,
        on_open_change=S.set_group_dialog_open,
        on_submit=S.add_to_group,
        error=S.group_error,
        submit_label="Add",
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.spacer(),
            export_button(),
            rx.button(
                rx.icon("columns_3", size=16, aria_hidden="true"),
                "Column display",
                variant="soft",
                on_click=C.open_dialog,
            ),
            rx.cond(
                _has(PROFILES_CREATE),
                rx.button(
                    rx.link(
                        rx.icon("user_plus", size=16, aria_hidden="true"),
                        "New profile",
                        href=routes.PROFILE_NEW,
                        underline="none",
                        # the solid button's own text colour, not the link's
                        color="var(--accent-contrast)",
                    ),
                    as_child=True,
                ),
            ),
            spacing="3",
            width="100%",
        ),
        filter_form(),
        active_filters(S.chips, S.remove_filter, S.reset_filters),
        selection_bar(),
        rx.box(
            data_table(
                columns=S.columns,
                rows=S.rows,
                sort_key=S.sort_key,
                descending=S.descending,
                on_sort=S.sort_by,
                caption="Profiles",
                selectable=(_has(PROFILES_TAG) | _has(PROFILES_EDIT) | _has(PROFILES_EXPORT) | _has(PROFILES_DELETE)),
                selected=S.selected,
                on_select_row=S.toggle_row,
                page_selected=S.page_selected,
                on_select_page=S.toggle_page,
            ),
            width="100%",
            overflow_x="auto",
        ),
        rx.cond(S.rows.length() == 0, no_rows(S.empty_text)),
        pagination(
            page=S.page,
            pages=S.pages,
            total_text=S.total_text,
            page_size=S.page_size,
            on_page=S.go_to_page,
            on_page_size=S.set_page_size,
        ),
        columns_dialog(),
        tag_picker_dialog(S.apply_tag),
        group_dialog(),
        export_dialog(),
        delete_selected_dialog(),
        merge_dialog(),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.PROFILES, title=TITLE)
