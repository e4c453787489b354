"""Settings → Segments and groups: named audiences (profiles stay when one is deleted)."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ...services.workspace_settings import audiences
from ...state.base import guarded
from .common import SettingsTabState, add_form, delete_button, form_text, settings_table, tab_intro, text_field

SOURCE_LABELS = {"import": "From an import", "filter": "From a saved filter", "manual": "Created here"}


@dataclasses.dataclass
class AudienceRow:
    id: int
    name: str
    description: str
    source: str


class AudiencesTab(SettingsTabState):
    segments: list[AudienceRow] = []
    groups: list[AudienceRow] = []

    def _reload(self, session: Any, actor: Any) -> None:
        self.segments = [
            AudienceRow(s.id, s.name, s.description, SOURCE_LABELS.get(s.source, s.source))
            for s in audiences.list_segments(session=session, actor=actor)
        ]
        self.groups = [
            AudienceRow(g.id, g.name, g.description, "") for g in audiences.list_groups(session=session, actor=actor)
        ]

    @rx.event
    @guarded
    def load(self) -> None:
        self._load_tab()

    @rx.event
    @guarded
    def add_segment(self, form_data: dict[str, Any]) -> Any:
        name, description = form_text(form_data, "name"), form_text(form_data, "description")
        return self._change(
            lambda session, actor: audiences.create_segment(
                session=session, actor=actor, name=name, description=description
            ),
            f"Segment '{name.strip()}' added",
        )

    @rx.event
    @guarded
    def delete_segment(self, segment_id: int) -> Any:
        return self._change(
            lambda session, actor: audiences.delete_segment(session=session, actor=actor, segment_id=int(segment_id)),
            "Segment deleted",
        )

    @rx.event
    @guarded
    def add_group(self, form_data: dict[str, Any]) -> Any:
        name, description = form_text(form_data, "name"), form_text(form_data, "description")
        return self._change(
            lambda session, actor: audiences.create_group(
                session=session, actor=actor, name=name, description=description
            ),
            f"Group '{name.strip()}' added",
        )

    @rx.event
    @guarded
    def delete_group(self, group_id: int) -> Any:
        return self._change(
            lambda session, actor: audiences.delete_group(session=session, actor=actor, group_id=int(group_id)),
            "Group deleted",
        )


def _list(title: str, rows: rx.Var, on_delete: Any, what: str) -> rx.Component:
    def row(item: AudienceRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(item.name),
            rx.table.cell(rx.text(item.description, size="1")),
            rx.table.cell(rx.text(item.source, size="1", color_scheme="gray")),
            rx.table.cell(delete_button(f"Delete {what} " + item.name, on_delete(item.id))),
        )

    return rx.vstack(
        rx.heading(title, size="3", as_="h3"),
        settings_table(("Name", "Description", "Source", ""), rows, row),
        width="100%",
    )


def audiences_tab() -> rx.Component:
    t = AudiencesTab
    return rx.vstack(
        tab_intro(
            "Segments come from segment files or saved filters; groups are audiences that "
            "profiles are added to. Deleting one never deletes profiles."
        ),
        _list("Segments", t.segments, t.delete_segment, "segment"),
        add_form(
            "New segment",
            text_field("Name", "name", id="segment-name"),
            text_field("Description", "description", id="segment-description", width="320px"),
            on_submit=t.add_segment,
            submit_label="Add segment",
        ),
        _list("Groups", t.groups, t.delete_group, "group"),
        add_form(
            "New group",
            text_field("Name", "name", id="group-name"),
            text_field("Description", "description", id="group-description", width="320px"),
            on_submit=t.add_group,
            submit_label="Add group",
        ),
        spacing="4",
        width="100%",
    )
