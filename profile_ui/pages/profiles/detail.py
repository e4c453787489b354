"""/profiles/[profile_id]: User 360 — basic and member information (edited in place),
identity information, tags, groups, segments, consent, linked objects and history."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ... import routes
from ...components.dialogs import confirm_dialog, form_dialog, labelled_input, labelled_select
from ...components.inline_edit import EditableField, attribute_row, attribute_table, inline_field
from ...components.shell import shell, visually_hidden
from ...components.table_caption import hidden_caption
from ...components.tag_chips import tag_chips
from ...state.base import AppState
from .common import PROFILES_EDIT, PROFILES_TAG, SETTINGS_MANAGE
from .delete_dialog import delete_profile_button, delete_profile_dialog
from .detail_state import HistoryItem, IdentityView, Item, ProfileDetailState
from .merge_dialog import (
    merge_dialog,
    merge_with_button,
    merged_from_panel,
    merged_into_notice,
    unmerge_dialog,
)
from .tag_picker import tag_picker_dialog

TITLE = "Profile"
S = ProfileDetailState


def _has(permission: str) -> rx.Var:
    return AppState.permissions.contains(permission)


def _section(title: str, *children: rx.Component, action: rx.Component | None = None) -> rx.Component:
    return rx.el.section(
        rx.hstack(
            rx.heading(title, size="3", as_="h2"), rx.spacer(), action or rx.fragment(), align="center", width="100%"
        ),
        *children,
        aria_label=title,
        style={"display": "flex", "flexDirection": "column", "gap": "8px", "width": "100%"},
    )


def _fields(name: str, fields: rx.Var) -> rx.Component:
    return attribute_table(
        name,
        rx.foreach(
            fields,
            lambda f: inline_field(
                f,
                editing_key=S.editing_key,
                error=S.edit_error,
                can_edit=_has(PROFILES_EDIT),
                can_unlock=_has(SETTINGS_MANAGE),
                on_start=S.start_edit,
                on_submit=S.submit_inline,
                on_blur=S.blur_inline,
                on_key=S.inline_key,
                on_unlock=S.unlock,
            ),
        ),
    )


def _fact(label: str, value: rx.Component | rx.Var) -> rx.Component:
    return attribute_row(label, value if isinstance(value, rx.Component) else rx.text(value, size="2"))


def _basic_tab() -> rx.Component:
    return rx.vstack(
        _section("Basic information", _fields("Basic information", S.basic_fields)),
        _section("Member information", _fields("Member information", S.member_fields)),
        _section(
            "Source",
            attribute_table(
                "Source",
                _fact("Initial source", S.initial_source),
                _fact(
                    "Associated channels",
                    rx.hstack(rx.foreach(S.channels, lambda c: rx.badge(c, variant="outline")), wrap="wrap"),
                ),
                _fact("Created", S.created),
                _fact("Updated", S.updated),
            ),
        ),
        spacing="5",
        padding_top="1em",
        width="100%",
    )


def _identity_row(identity: IdentityView) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(identity.kind_label),
        rx.table.cell(
            rx.tooltip(
                rx.hstack(
                    rx.text(identity.value, size="2", tab_index=0),
                    rx.cond(identity.encrypted, rx.icon("shield_check", size=14, aria_hidden="true")),
                    align="center",
                    spacing="1",
                ),
                content=identity.detail,
                delay_duration=150,
            ),
        ),
        # source and encryption as text in their own columns (the tooltip adds the details)
        rx.table.cell(rx.text(identity.source, size="2")),
        rx.table.cell(rx.text(rx.cond(identity.encrypted, "Encrypted", "Not encrypted"), size="2")),
        rx.table.cell(
            rx.cond(
                _has(PROFILES_EDIT),
                rx.icon_button(
                    rx.icon("trash_2", size=12, aria_hidden="true"),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.remove_identity(identity.id),
                    aria_label="Remove " + identity.kind_label + " " + identity.value,
                ),
            ),
        ),
    )


def _identity_tab() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Every id this person is known by, where it came from and whether it is stored "
            "encrypted. Hover a value for when it was first seen and the key.",
            size="2",
            color_scheme="gray",
        ),
        rx.table.root(
            hidden_caption("Identities"),
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Kind"),
                    rx.table.column_header_cell("Value"),
                    rx.table.column_header_cell("Source"),
                    rx.table.column_header_cell("Encryption"),
                    rx.table.column_header_cell(visually_hidden("Actions")),
                )
            ),
            rx.table.body(rx.foreach(S.identities, _identity_row)),
            size="1",
            width="100%",
            aria_label="Identities",
        ),
        rx.cond(
            _has(PROFILES_EDIT),
            rx.button(
                rx.icon("plus", size=14, aria_hidden="true"),
                "Add identity",
                size="2",
                variant="soft",
                on_click=S.set_identity_open(True),
            ),
        ),
        spacing="3",
        padding_top="1em",
        width="100%",
    )


def _item_list(items: rx.Var, label: str, empty: str, on_remove: Any = None) -> rx.Component:
    def row(item: Item) -> rx.Component:
        return rx.el.li(
            rx.hstack(
                rx.text(item.title, size="2", weight="medium"),
                rx.text(item.subtitle, size="1", color_scheme="gray"),
                rx.spacer(),
                rx.cond(
                    _has(PROFILES_EDIT),
                    rx.icon_button(
                        rx.icon("x", size=12, aria_hidden="true"),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=on_remove(item.id),
                        aria_label="Remove from " + item.title,
                    ),
                )
                if on_remove is not None
                else rx.fragment(),
                align="center",
                spacing="2",
            ),
            list_style="none",
        )

    return rx.cond(
        items.length() > 0,
        rx.el.ul(
            rx.foreach(items, row),
            aria_label=label,
            style={"padding": 0, "margin": 0, "display": "flex", "flexDirection": "column", "gap": "4px"},
        ),
        rx.text(empty, size="2", color_scheme="gray"),
    )


def _right_column() -> rx.Component:
    return rx.vstack(
        rx.card(
            _section(
                "Tags",
                tag_chips(S.tags, label="Tags", on_remove=S.remove_tag, can_remove=_has(PROFILES_TAG)),
                action=rx.cond(
                    _has(PROFILES_TAG),
                    rx.button(
                        rx.icon("tag", size=14, aria_hidden="true"),
                        "Add tag",
                        size="1",
                        variant="soft",
                        on_click=S.open_tag_picker,
                    ),
                ),
            ),
            width="100%",
        ),
        rx.card(_section("Groups", _item_list(S.groups, "Groups", "In no group.", S.leave_group)), width="100%"),
        rx.card(_section("Segments", _item_list(S.segments, "Segments", "In no segment.")), width="100%"),
        rx.card(_section("Consent", _item_list(S.consent, "Consent", "")), width="100%"),
        rx.card(
            _section(
                "Linked objects",
                _item_list(S.linked, "Linked objects", "No accounts, opportunities, tickets or tasks."),
            ),
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _history_row(item: HistoryItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when),
        rx.table.cell(item.who),
        rx.table.cell(item.what),
        rx.table.cell(rx.text(item.details, size="1")),
    )


def _history() -> rx.Component:
    return _section(
        "History",
        rx.cond(
            S.history.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(*[rx.table.column_header_cell(h) for h in ("When", "Who", "What", "Details")])
                ),
                rx.table.body(rx.foreach(S.history, _history_row)),
                size="1",
                width="100%",
                aria_label="History",
            ),
            rx.text("Nothing recorded yet.", size="2", color_scheme="gray"),
        ),
    )


def _edit_input(field: EditableField) -> rx.Component:
    return rx.fragment(
        labelled_input(
            field.label,
            name="edit-" + field.key,
            id="edit-" + field.key,
            default_value=field.raw,
            error=S.edit_errors[field.key].to(str),
            placeholder=field.hint,
            custom_attrs={"list": "edit-choices-" + field.key, "autoComplete": "off"},
        ),
        rx.el.datalist(rx.foreach(field.options, lambda o: rx.el.option(value=o)), id="edit-choices-" + field.key),
    )


def _dialogs() -> rx.Component:
    return rx.fragment(
        form_dialog(
            title="Edit profile",
            description="Saved values are locked: later imports won't change them.",
            body=rx.grid(rx.foreach(S.fields, _edit_input), columns="2", spacing="3", width="100%"),
            is_open=S.edit_open,
            on_open_change=S.set_edit_open,
            on_submit=S.save_edit,
            submit_label="Save",
            max_width="680px",
            form_key=S.edit_form_key,
        ),
        form_dialog(
            title="Add identity",
            body=rx.vstack(
                labelled_select(
                    "Kind", name="kind", id="identity-kind", item_var=S.identity_kinds, default_value="email"
                ),
                labelled_input("Value", name="value", id="identity-value"),
                width="100%",
            ),
            is_open=S.identity_open,
            on_open_change=S.set_identity_open,
            on_submit=S.add_identity,
            error=S.identity_error,
            submit_label="Add",
        ),
        confirm_dialog(
            title=rx.cond(S.is_active, "Deactivate this profile?", "Reactivate this profile?"),
            message=rx.cond(
                S.is_active,
                "It will be hidden from lists and programs until it is reactivated.",
                "It will show in lists and programs again.",
            ),
            is_open=S.status_confirm_open,
            on_open_change=S.set_status_confirm_open,
            on_confirm=S.toggle_active,
            confirm_label=rx.cond(S.is_active, "Deactivate", "Reactivate"),
        ),
        tag_picker_dialog(S.apply_tag),
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(
                rx.hstack(
                    rx.icon("arrow_left", size=14, aria_hidden="true"), "All profiles", align="center", spacing="1"
                ),
                href=routes.PROFILES,
                size="2",
            ),
            rx.hstack(
                rx.heading(S.title, size="6", as_="h2"),
                rx.badge(S.status, color_scheme=rx.cond(S.is_active, "green", "gray"), size="2", high_contrast=True),
                align="center",
                spacing="3",
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.cond(
            _has(PROFILES_TAG),
            rx.button(rx.icon("tag", size=16, aria_hidden="true"), "Tag", variant="soft", on_click=S.open_tag_picker),
        ),
        rx.cond(
            _has(PROFILES_EDIT),
            rx.fragment(
                rx.button(rx.icon("pencil", size=16, aria_hidden="true"), "Edit", on_click=S.open_edit),
                rx.button(
                    rx.cond(S.is_active, "Deactivate", "Reactivate"),
                    variant="soft",
                    color_scheme=rx.cond(S.is_active, "red", "green"),
                    on_click=S.set_status_confirm_open(True),
                ),
            ),
        ),
        merge_with_button(),
        delete_profile_button(),
        align="end",
        spacing="3",
        width="100%",
    )


def content() -> rx.Component:
    return rx.cond(
        S.missing != "",
        rx.vstack(
            rx.callout(S.missing, icon="circle_alert", color_scheme="red", role="alert"),
            merged_into_notice(),
            width="100%",
        ),
        rx.vstack(
            _header(),
            merged_from_panel(),
            rx.grid(
                rx.card(
                    rx.tabs.root(
                        rx.tabs.list(
                            rx.tabs.trigger("Basic information", value="basic"),
                            rx.tabs.trigger("Identity information", value="identity"),
                        ),
                        rx.tabs.content(_basic_tab(), value="basic"),
                        rx.tabs.content(_identity_tab(), value="identity"),
                        default_value="basic",
                    ),
                    width="100%",
                ),
                _right_column(),
                columns="minmax(0, 3fr) minmax(0, 2fr)",
                spacing="4",
                width="100%",
            ),
            rx.card(_history(), width="100%"),
            _dialogs(),
            delete_profile_dialog(),
            merge_dialog(),
            unmerge_dialog(),
            spacing="4",
            width="100%",
        ),
    )


def page() -> rx.Component:
    return shell(content(), route=routes.PROFILE_DETAIL, title=TITLE)
