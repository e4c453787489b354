"""Settings → Sync rule: which ids identify a person (in order), auto-merge, and what an
import or a manual create does with each field of a matched profile; plus identity kinds."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ...services.workspace_settings import fields as field_settings
from ...services.workspace_settings import identity_kinds, sync_rule
from ...state.base import guarded
from .common import (
    SettingsTabState,
    add_form,
    delete_button,
    form_checkbox,
    form_text,
    settings_table,
    tab_intro,
    text_field,
    ticked,
)

POLICY_LABELS = {
    "overwrite": "Overwrite (the file wins)",
    "fill_empty": "Fill empty values only",
    "never": "Never update",
}
DEFAULT_POLICY = "default"


@dataclasses.dataclass
class KindRow:
    key: str
    label: str
    builtin: bool
    identifies: bool


@dataclasses.dataclass
class FieldPolicyRow:
    key: str
    label: str
    policy: str  # a policy, or DEFAULT_POLICY for "the rule's default"


class SyncRuleTab(SettingsTabState):
    order: list[str] = []  # identity kinds that identify a person, in matching order
    kinds: list[KindRow] = []
    auto_merge: bool = False
    default_policy: str = "overwrite"
    field_policies: list[FieldPolicyRow] = []

    @rx.var
    def kind_labels(self) -> dict[str, str]:
        return {k.key: k.label for k in self.kinds}

    def _reload(self, session: Any, actor: Any) -> None:
        rule = sync_rule.get_sync_rule(session=session, actor=actor)
        self.order = list(rule.identifier_kinds or [])
        self.kinds = [
            KindRow(k.key, k.label, k.is_builtin, k.key in self.order)
            for k in identity_kinds.list_identity_kinds(session=session, actor=actor)
        ]
        self.auto_merge = rule.auto_merge
        self.default_policy = rule.default_policy
        policies = rule.field_policies or {}
        self.field_policies = [
            FieldPolicyRow(f.key, f.label, policies.get(f.key, DEFAULT_POLICY))
            for f in field_settings.list_fields(session=session, actor=actor)
        ]

    @rx.event
    @guarded
    def load(self) -> None:
        self._load_tab()

    def _save(self, done: str, **changes: Any) -> Any:
        return self._change(
            lambda session, actor: sync_rule.update_sync_rule(session=session, actor=actor, **changes), done
        )

    @rx.event
    @guarded
    def toggle_identifier(self, key: str, identifies: bool) -> Any:
        order = [k for k in self.order if k != key] + ([key] if identifies else [])
        return self._save("Sync rule saved", identifier_kinds=order)

    @rx.event
    @guarded
    def move_identifier(self, key: str, step: int) -> Any:
        order = list(self.order)
        if key not in order:
            return None
        i = order.index(key)
        j = min(max(i + int(step), 0), len(order) - 1)
        order[i], order[j] = order[j], order[i]
        return self._save("Sync rule saved", identifier_kinds=order)

    @rx.event
    @guarded
    def set_auto_merge(self, value: bool) -> Any:
        return self._save("Sync rule saved", auto_merge=bool(value))

    @rx.event
    @guarded
    def set_default_policy(self, policy: str) -> Any:
        return self._save("Sync rule saved", default_policy=policy)

    @rx.event
    @guarded
    def set_field_policy(self, key: str, policy: str) -> Any:
        policies = {row.key: row.policy for row in self.field_policies if row.policy != DEFAULT_POLICY}
        if policy == DEFAULT_POLICY:
            policies.pop(key, None)
        else:
            policies[key] = policy
        return self._save("Sync rule saved", field_policies=policies)

    @rx.event
    @guarded
    def add_kind(self, form_data: dict[str, Any]) -> Any:
        label = form_text(form_data, "label")

        def create(session: Any, actor: Any) -> None:
            kind = identity_kinds.create_identity_kind(session=session, actor=actor, label=label)
            if ticked(form_data, "identifies"):
                rule = sync_rule.get_sync_rule(session=session, actor=actor)
                sync_rule.update_sync_rule(
                    session=session, actor=actor, identifier_kinds=[*(rule.identifier_kinds or []), kind.key]
                )

        return self._change(create, f"Identity kind '{label.strip()}' added")

    @rx.event
    @guarded
    def delete_kind(self, key: str) -> Any:
        return self._change(
            lambda session, actor: identity_kinds.delete_identity_kind(session=session, actor=actor, key=key),
            "Identity kind deleted",
        )


def _policy_select(label: rx.Var | str, value: rx.Var, on_change: Any, with_default: bool) -> rx.Component:
    options = ([(DEFAULT_POLICY, "Rule default")] if with_default else []) + list(POLICY_LABELS.items())
    return rx.el.select(
        *[rx.el.option(text, value=v) for v, text in options],
        value=value,
        on_change=on_change,
        aria_label=label,
        style={
            "height": "28px",
            "padding": "0 6px",
            "borderRadius": "6px",
            "border": f"1px solid {rx.color('gray', 7)}",
        },
    )


def _order_row(key: rx.Var, index: rx.Var) -> rx.Component:
    t = SyncRuleTab
    label = t.kind_labels[key]
    return rx.el.li(
        rx.hstack(
            rx.text(index + 1, ". ", label, size="2", weight="medium"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("arrow_up", size=12, aria_hidden="true"),
                size="1",
                variant="soft",
                disabled=index == 0,
                on_click=t.move_identifier(key, -1),
                aria_label="Match " + label + " earlier",
            ),
            rx.icon_button(
                rx.icon("arrow_down", size=12, aria_hidden="true"),
                size="1",
                variant="soft",
                disabled=index == t.order.length() - 1,
                on_click=t.move_identifier(key, 1),
                aria_label="Match " + label + " later",
            ),
            align="center",
            spacing="2",
            width="280px",
        ),
        list_style="none",
    )


def _kind_row(kind: KindRow) -> rx.Component:
    t = SyncRuleTab
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(rx.text(kind.label, weight="medium"), rx.code(kind.key, size="1", variant="ghost"), spacing="0")
        ),
        rx.table.cell(
            rx.switch(
                checked=kind.identifies,
                on_change=lambda v: t.toggle_identifier(kind.key, v),
                aria_label="Identifies a person: " + kind.label,
            )
        ),
        rx.table.cell(
            rx.cond(
                kind.builtin,
                rx.badge("Built in", variant="soft", color_scheme="gray"),
                delete_button("Delete identity kind " + kind.label, t.delete_kind(kind.key)),
            )
        ),
    )


def _field_policy_row(row: FieldPolicyRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.label),
        rx.table.cell(
            _policy_select(
                "Policy for " + row.label, row.policy, lambda v: SyncRuleTab.set_field_policy(row.key, v), True
            )
        ),
    )


def sync_rule_tab() -> rx.Component:
    t = SyncRuleTab
    return rx.vstack(
        tab_intro(
            "A record from an import or the New profile form is matched to an existing "
            "profile by these ids, in this order; no match creates a profile."
        ),
        rx.heading("Identifiers, in matching order", size="3", as_="h3"),
        rx.el.ol(
            rx.foreach(t.order, _order_row),
            aria_label="Identifiers in matching order",
            style={"padding": 0, "margin": 0},
        ),
        rx.hstack(
            rx.switch(checked=t.auto_merge, on_change=t.set_auto_merge, id="auto-merge"),
            rx.el.label(
                "Merge automatically when a record matches two profiles (otherwise they are held for review)",
                html_for="auto-merge",
                style={"fontSize": "14px"},
            ),
            align="center",
            spacing="2",
        ),
        rx.hstack(
            rx.text("When a matched profile already has a value:", size="2"),
            _policy_select("Default policy", t.default_policy, t.set_default_policy, False),
            align="center",
            spacing="2",
        ),
        rx.heading("Per-field policy", size="3", as_="h3"),
        settings_table(("Field", "Policy"), t.field_policies, _field_policy_row, full_width=False),
        rx.heading("Identity kinds", size="3", as_="h3"),
        settings_table(("Kind", "Identifies a person", ""), t.kinds, _kind_row, full_width=False),
        add_form(
            "New identity kind",
            text_field("Label", "label", id="kind-label", placeholder="e.g. Loyalty card number"),
            form_checkbox("Identifies a person", "identifies"),
            on_submit=t.add_kind,
            submit_label="Add identity kind",
        ),
        spacing="4",
        width="100%",
    )
