"""Tags (/tags): the tag groups and their tags, each linking to the profiles carrying it.
Tagging happens in the profile list (Batch tag) and on a profile; admins manage the
tags themselves under Settings."""

from __future__ import annotations

import dataclasses

import reflex as rx

from .. import routes
from ..components.shell import shell
from ..db import session_scope
from ..services.workspace_settings import list_tag_groups
from ..state.base import AppState, guarded

TITLE = "Tags"
KIND_LABELS = {"text": "one value", "multi": "several values"}


@dataclasses.dataclass
class TagLink:
    name: str
    kind: str
    href: str


@dataclasses.dataclass
class TagGroupView:
    name: str
    tags: list[TagLink]


class TagsState(AppState):
    groups: list[TagGroupView] = []

    @rx.event
    @guarded
    def on_load(self) -> None:
        actor = self._enter_page(routes.TAGS)
        if actor is None:
            return
        with session_scope() as session:
            catalogue = list_tag_groups(session=session, actor=actor)
        self.groups = [
            TagGroupView(
                g.name,
                [TagLink(t.name, KIND_LABELS.get(t.kind, t.kind), f"{routes.PROFILES}?tag={t.id}") for t in tags],
            )
            for g, tags in catalogue
        ]


def _group(group: TagGroupView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(group.name, size="3", as_="h2"),
            rx.cond(
                group.tags.length() > 0,
                rx.el.ul(
                    rx.foreach(
                        group.tags,
                        lambda t: rx.el.li(
                            rx.hstack(
                                rx.link(t.name, href=t.href),
                                rx.text(t.kind, size="1", color_scheme="gray"),
                                align="center",
                                spacing="2",
                            ),
                            list_style="none",
                        ),
                    ),
                    style={"padding": 0, "margin": 0},
                ),
                rx.text("No tags yet.", size="2", color_scheme="gray"),
            ),
            spacing="2",
        ),
        width="100%",
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Open a tag to see the profiles that carry it. Tag profiles from the profile list "
            "(Batch tag) or on a profile's page.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            TagsState.groups.length() > 0,
            rx.grid(rx.foreach(TagsState.groups, _group), columns="3", spacing="3", width="100%"),
            rx.text("No tag groups yet. An admin adds them under Settings.", color_scheme="gray"),
        ),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.TAGS, title=TITLE)
