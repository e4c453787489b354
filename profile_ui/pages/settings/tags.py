"""Settings → Tags: tag groups and their tags (text: one value; multi: several values)."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ...services.workspace_settings import tags as tag_settings
from ...state.base import guarded
from ..profiles.common import Choice
from .common import SettingsTabState, add_form, form_text, native_select, tab_intro, text_field

KIND_LABELS = {"text": "Text (one value)", "multi": "Multi-value"}


@dataclasses.dataclass
class TagRow:
    id: int
    name: str
    kind: str


@dataclasses.dataclass
class TagGroupRow:
    id: int
    name: str
    tags: list[TagRow]


class TagsTab(SettingsTabState):
    groups: list[TagGroupRow] = []
    group_choices: list[Choice] = []

    def _reload(self, session: Any, actor: Any) -> None:
        self.groups = [
            TagGroupRow(g.id, g.name, [TagRow(t.id, t.name, KIND_LABELS.get(t.kind, t.kind)) for t in tags])
            for g, tags in tag_settings.list_tag_groups(session=session, actor=actor)
        ]
        self.group_choices = [Choice(str(g.id), g.name) for g in self.groups]

    @rx.event
    @guarded
    def load(self) -> None:
        self._load_tab()

    @rx.event
    @guarded
    def add_group(self, form_data: dict[str, Any]) -> Any:
        name = form_text(form_data, "name")
        return self._change(
            lambda session, actor: tag_settings.create_tag_group(session=session, actor=actor, name=name),
            f"Tag group '{name.strip()}' added",
        )

    @rx.event
    @guarded
    def add_tag(self, form_data: dict[str, Any]) -> Any:
        name, group, kind = (
            form_text(form_data, "name"),
            form_text(form_data, "group"),
            form_text(form_data, "kind", "text"),
        )
        if not group.isdigit():
            return rx.toast.error("Choose a tag group")
        return self._change(
            lambda session, actor: tag_settings.create_tag(
                session=session, actor=actor, group_id=int(group), name=name, kind=kind
            ),
            f"Tag '{name.strip()}' added",
        )

    @rx.event
    @guarded
    def delete_tag(self, tag_id: int) -> Any:
        return self._change(
            lambda session, actor: tag_settings.delete_tag(session=session, actor=actor, tag_id=int(tag_id)),
            "Tag deleted (and removed from every profile)",
        )

    @rx.event
    @guarded
    def delete_group(self, group_id: int) -> Any:
        return self._change(
            lambda session, actor: tag_settings.delete_tag_group(session=session, actor=actor, group_id=int(group_id)),
            "Tag group deleted (its tags were removed from every profile)",
        )


def _tag(tag: TagRow) -> rx.Component:
    return rx.el.li(
        rx.badge(
            tag.name,
            rx.text(" · ", tag.kind, size="1", color_scheme="gray", as_="span"),
            rx.icon_button(
                rx.icon("x", size=12, aria_hidden="true"),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=TagsTab.delete_tag(tag.id),
                aria_label="Delete tag " + tag.name,
            ),
            variant="soft",
            size="2",
        ),
        list_style="none",
    )


def _group(group: TagGroupRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(group.name, size="3", as_="h3"),
                rx.spacer(),
                rx.button(
                    "Delete group",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=TagsTab.delete_group(group.id),
                    aria_label="Delete tag group " + group.name,
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                group.tags.length() > 0,
                rx.el.ul(
                    rx.foreach(group.tags, _tag),
                    aria_label="Tags in " + group.name,
                    style={"display": "flex", "flexWrap": "wrap", "gap": "6px", "padding": 0, "margin": 0},
                ),
                rx.text("No tags yet.", size="2", color_scheme="gray"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def tags_tab() -> rx.Component:
    return rx.vstack(
        tab_intro("Tags are grouped; a text tag holds one value per profile, a multi-value tag several."),
        rx.foreach(TagsTab.groups, _group),
        rx.grid(
            add_form(
                "New tag group",
                text_field("Name", "name", id="tag-group-name"),
                on_submit=TagsTab.add_group,
                submit_label="Add group",
            ),
            add_form(
                "New tag",
                native_select("Tag group", "group", id="tag-group", option_var=TagsTab.group_choices),
                text_field("Name", "name", id="tag-name"),
                native_select("Kind", "kind", id="tag-kind", options=list(KIND_LABELS.items()), default="text"),
                on_submit=TagsTab.add_tag,
                submit_label="Add tag",
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
