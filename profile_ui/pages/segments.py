"""Segments (/segments): the segments and groups, each linking to its profiles. Segments
come from segment files (Imports) or are added by admins under Settings."""

from __future__ import annotations

import dataclasses

import reflex as rx

from .. import routes
from ..components.shell import shell
from ..db import session_scope
from ..services.workspace_settings import list_groups, list_segments
from ..state.base import AppState, guarded

TITLE = "Segments"
SOURCE_LABELS = {"import": "from an import", "filter": "from a saved filter", "manual": "created by hand"}


@dataclasses.dataclass
class AudienceLink:
    name: str
    description: str
    href: str


class SegmentsState(AppState):
    segments: list[AudienceLink] = []
    groups: list[AudienceLink] = []

    @rx.event
    @guarded
    def on_load(self) -> None:
        actor = self._enter_page(routes.SEGMENTS)
        if actor is None:
            return
        with session_scope() as session:
            self.segments = [
                AudienceLink(
                    s.name,
                    " · ".join(x for x in (s.description, SOURCE_LABELS.get(s.source, "")) if x),
                    f"{routes.PROFILES}?segment={s.id}",
                )
                for s in list_segments(session=session, actor=actor)
            ]
            self.groups = [
                AudienceLink(g.name, g.description, f"{routes.PROFILES}?group={g.id}")
                for g in list_groups(session=session, actor=actor)
            ]


def _list(title: str, items: rx.Var, empty: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3", as_="h2"),
            rx.cond(
                items.length() > 0,
                rx.el.ul(
                    rx.foreach(
                        items,
                        lambda a: rx.el.li(
                            rx.vstack(
                                rx.link(a.name, href=a.href, weight="medium"),
                                rx.text(a.description, size="1", color_scheme="gray"),
                                spacing="0",
                            ),
                            list_style="none",
                        ),
                    ),
                    style={"padding": 0, "margin": 0, "display": "flex", "flexDirection": "column", "gap": "8px"},
                ),
                rx.text(empty, size="2", color_scheme="gray"),
            ),
            spacing="3",
        ),
        width="100%",
    )


def content() -> rx.Component:
    return rx.grid(
        _list(
            "Segments",
            SegmentsState.segments,
            "No segments yet: import a segment file, or an admin adds one under Settings.",
        ),
        _list("Groups", SegmentsState.groups, "No groups yet."),
        columns="2",
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.SEGMENTS, title=TITLE)
