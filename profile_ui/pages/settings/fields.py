"""Settings → Fields: system and custom attributes (type, options, required on create, PII)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import reflex as rx

from ...models import FIELD_TYPES
from ...services.workspace_settings import fields as field_settings
from ...state.base import guarded
from .common import (
    SettingsTabState,
    add_form,
    delete_button,
    form_checkbox,
    form_text,
    native_select,
    settings_table,
    tab_intro,
    text_field,
    ticked,
)

TYPE_LABELS = {
    "text": "Text",
    "number": "Number",
    "date": "Date",
    "datetime": "Date and time",
    "boolean": "Yes / no",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "email": "E-mail",
    "phone": "Phone",
}


@dataclasses.dataclass
class FieldRow:
    key: str
    label: str
    type_label: str
    options: str
    required: bool
    pii: bool
    system: bool


class FieldsTab(SettingsTabState):
    rows: list[FieldRow] = []

    def _reload(self, session: Any, actor: Any) -> None:
        self.rows = [
            FieldRow(
                f.key,
                f.label,
                TYPE_LABELS.get(f.type, f.type),
                ", ".join(f.options or []),
                f.required_on_create,
                f.is_pii,
                f.is_system,
            )
            for f in field_settings.list_fields(session=session, actor=actor)
        ]

    @rx.event
    @guarded
    def load(self) -> None:
        self._load_tab()

    @rx.event
    @guarded
    def create_field(self, form_data: dict[str, Any]) -> Any:
        label = form_text(form_data, "label")
        field_type = form_text(form_data, "type", "text")
        options = [o for o in re.split(r"[\n,;|]", form_text(form_data, "options")) if o.strip()]
        result = self._change(
            lambda session, actor: field_settings.create_field(
                session=session,
                actor=actor,
                label=label,
                type=field_type,
                options=options,
                required_on_create=ticked(form_data, "required"),
                is_pii=ticked(form_data, "pii"),
            ),
            f"Field '{label.strip()}' added",
        )
        return result

    @rx.event
    @guarded
    def set_required(self, key: str, required: bool) -> Any:
        return self._change(
            lambda session, actor: field_settings.update_field(
                session=session, actor=actor, key=key, required_on_create=bool(required)
            ),
            "Saved: " + ("required on create" if required else "not required on create"),
        )

    @rx.event
    @guarded
    def set_pii(self, key: str, pii: bool) -> Any:
        return self._change(
            lambda session, actor: field_settings.update_field(session=session, actor=actor, key=key, is_pii=bool(pii)),
            "Saved",
        )

    @rx.event
    @guarded
    def delete_field(self, key: str) -> Any:
        return self._change(
            lambda session, actor: field_settings.delete_field(session=session, actor=actor, key=key), "Field deleted"
        )


def _row(row: FieldRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(rx.text(row.label, weight="medium"), rx.code(row.key, size="1", variant="ghost"), spacing="0")
        ),
        rx.table.cell(row.type_label),
        rx.table.cell(rx.text(row.options, size="1")),
        rx.table.cell(
            rx.switch(
                checked=row.required,
                on_change=lambda v: FieldsTab.set_required(row.key, v),
                aria_label="Required on create: " + row.label,
            )
        ),
        rx.table.cell(
            rx.cond(
                row.system,
                rx.text(rx.cond(row.pii, "Yes", "No"), size="2"),
                rx.switch(
                    checked=row.pii, on_change=lambda v: FieldsTab.set_pii(row.key, v), aria_label="PII: " + row.label
                ),
            )
        ),
        rx.table.cell(
            rx.cond(
                row.system,
                rx.badge("System", variant="soft", color_scheme="gray"),
                delete_button("Delete field " + row.label, FieldsTab.delete_field(row.key)),
            )
        ),
    )


def fields_tab() -> rx.Component:
    return rx.vstack(
        tab_intro(
            "System fields are columns every profile has; custom fields are extra attributes. "
            "Fields required on create must be filled in the New profile form."
        ),
        settings_table(("Field", "Type", "Options", "Required on create", "PII", ""), FieldsTab.rows, _row),
        add_form(
            "Add a custom field",
            text_field("Label", "label", id="field-label", placeholder="e.g. Loyalty card"),
            native_select(
                "Type",
                "type",
                id="field-type",
                options=[(t, TYPE_LABELS.get(t, t)) for t in FIELD_TYPES],
                default="text",
            ),
            text_field(
                "Options", "options", id="field-options", width="260px", placeholder="choice fields: Red, Green, Blue"
            ),
            form_checkbox("Required on create", "required"),
            form_checkbox("PII", "pii"),
            on_submit=FieldsTab.create_field,
            submit_label="Add field",
        ),
        spacing="4",
        width="100%",
    )
