"""/settings (settings.manage): fields, tags, segments and groups, the sync rule and
identity kinds, users and roles, consent channels — one tab each, each with its state
in its own module."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ... import routes
from ...components.shell import shell
from ...state.base import AppState, guarded
from .audiences import AudiencesTab, audiences_tab
from .fields import FieldsTab, fields_tab
from .sync_rule import SyncRuleTab, sync_rule_tab
from .tags import TagsTab, tags_tab
from .users import UsersTab, users_tab

TITLE = "Settings"
TABS = (
    ("fields", "Fields"),
    ("tags", "Tags"),
    ("audiences", "Segments and groups"),
    ("sync", "Sync rule"),
    ("users", "Users and roles"),
)


class SettingsState(AppState):
    @rx.event
    @guarded
    def on_load(self) -> Any:
        if self._enter_page(routes.SETTINGS) is None:
            return None
        # each tab reads its own data (and checks the actor again)
        return [FieldsTab.load, TagsTab.load, AudiencesTab.load, SyncRuleTab.load, UsersTab.load]


def content() -> rx.Component:
    bodies = {
        "fields": fields_tab,
        "tags": tags_tab,
        "audiences": audiences_tab,
        "sync": sync_rule_tab,
        "users": users_tab,
    }
    return rx.tabs.root(
        rx.tabs.list(*[rx.tabs.trigger(label, value=key) for key, label in TABS]),
        *[rx.tabs.content(rx.box(bodies[key](), padding_top="1em"), value=key) for key, _ in TABS],
        default_value="fields",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.SETTINGS, title=TITLE)
