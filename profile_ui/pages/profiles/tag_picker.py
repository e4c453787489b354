"""The tag dialog (tag group → tag → value) and the one flow that applies it, shared by the
list's Batch tag and the User 360 page's Tag button. `TagPickerState` only holds the
choice; a page mixes in `TagApplyMixin`, says what its dialog asks and which profiles it
tags (`_tag_dialog`, `_tag_targets`) and what follows (`_after_tagging`), and gets the
`open_tag_picker` / `apply_tag` events: one service call (`tag_profiles`) either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import reflex as rx

from ...components.dialogs import form_dialog
from ...db import session_scope
from ...services.permissions import Actor
from ...services.profiles import TAG_POLICIES, ProfileError, tag_profiles
from ...services.workspace_settings import list_tag_groups, tag_value_suggestions
from ...state.base import AppState, guarded, in_thread
from ...state.dialog import DialogMixin
from .common import Choice, choice_id

# the choice is about later imports, not about now: the legend says so, the labels finish it
POLICY_QUESTION = "When a later import brings another value for this tag:"
POLICY_LABELS = {"overwrite": "Overwrite with the imported value", "ignore": "Keep this value"}
POLICY_HINTS = {
    "overwrite": "The file's value replaces the one you set now.",
    "ignore": "The value you set now stays; the file's value is not used.",
}


@dataclasses.dataclass
class TagOption:
    id: str
    name: str
    kind: str
    group_id: str


@dataclasses.dataclass(frozen=True)
class TagDialog:
    """What the dialog asks: the policy question or not, its title and its line of text."""

    with_policy: bool
    title: str
    description: str


class TagPickerState(DialogMixin, AppState):
    with_policy: bool = True
    title: str = "Tag"
    description: str = ""
    group_choices: list[Choice] = []
    tag_choices: list[Choice] = []
    group_id: str = ""
    tag_id: str = ""
    tag_kind: str = ""
    suggestions: list[str] = []
    error: str = ""
    form_key: int = 0  # a new key each time it opens: the form starts empty

    _tags: list[TagOption] = []

    def _open(self, actor: Actor, dialog: TagDialog) -> None:
        with session_scope() as session:
            catalogue = list_tag_groups(session=session, actor=actor)
        self.group_choices = [Choice(str(g.id), g.name) for g, tags in catalogue if tags]
        self._tags = [TagOption(str(t.id), t.name, t.kind, str(g.id)) for g, tags in catalogue for t in tags]
        self.group_id = self.tag_id = self.tag_kind = self.error = ""
        self.tag_choices, self.suggestions = [], []
        self.with_policy, self.title, self.description = dialog.with_policy, dialog.title, dialog.description
        self.form_key += 1
        self.is_open = True

    @rx.event
    @guarded
    def choose_group(self, group_id: str) -> None:
        self._require_actor()
        self.group_id = group_id
        self.tag_choices = [Choice(t.id, t.name) for t in self._tags if t.group_id == group_id]
        self.tag_id = self.tag_kind = ""
        self.suggestions = []

    @rx.event
    @guarded
    def choose_tag(self, tag_id: str) -> None:
        actor = self._require_actor()
        tag = next((t for t in self._tags if t.id == tag_id and t.group_id == self.group_id), None)
        if tag is None:
            return
        self.tag_id, self.tag_kind, self.error = tag.id, tag.kind, ""
        with session_scope() as session:
            self.suggestions = tag_value_suggestions(session=session, actor=actor, tag_id=int(tag.id), limit=30)

    def chosen_tag(self, form_data: dict[str, Any]) -> tuple[int, str, str] | None:
        """(tag id, value, policy) from the dialog, or None with `error` set."""
        tag_id = choice_id(self.tag_id)
        if tag_id is None:
            self.error = "Choose a tag group and a tag"
            return None
        # without the question (a tag given to one person by hand), later imports keep it
        policy = str(form_data.get("policy") or "ignore") if self.with_policy else "ignore"
        if policy not in TAG_POLICIES:
            self.error = "Choose what later imports do with this tag"
            return None
        self.error = ""
        return tag_id, str(form_data.get("tag_value") or "").strip(), policy

    def close(self) -> None:
        self.is_open = False
        self.error = ""


class TagApplyMixin(rx.State, mixin=True):
    """A page that tags profiles with the tag dialog (draw it with tag_picker_dialog(S.apply_tag))."""

    if TYPE_CHECKING:  # AppState's, which the page state mixing this in is

        def _require_actor(self) -> Actor: ...

    def _tag_dialog(self) -> TagDialog:
        raise NotImplementedError

    def _tag_targets(self) -> dict[str, Any]:
        """Which profiles: `tag_profiles`' `profile_ids=[...]` or `flt=...`."""
        raise NotImplementedError

    def _after_tagging(self, actor: Actor, tagged: int) -> Any:
        """The page's events once `tagged` profiles were tagged (a toast, a reload...)."""
        raise NotImplementedError

    @rx.event
    @guarded
    async def open_tag_picker(self) -> None:
        picker = await self.get_state(TagPickerState)
        await in_thread(self._open_tag_picker, picker)

    def _open_tag_picker(self, picker: TagPickerState) -> None:
        picker._open(self._require_actor(), self._tag_dialog())

    @rx.event
    @guarded
    async def apply_tag(self, form_data: dict[str, Any]) -> Any:
        picker = await self.get_state(TagPickerState)
        return await in_thread(self._apply_tag, picker, form_data)

    def _apply_tag(self, picker: TagPickerState, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        chosen = picker.chosen_tag(form_data)
        if chosen is None:
            return None
        tag_id, value, policy = chosen
        try:
            with session_scope() as session:
                tagged = tag_profiles(
                    session=session, actor=actor, tag_id=tag_id, value=value, policy=policy, **self._tag_targets()
                )
        except ProfileError as exc:
            picker.error = str(exc)
            return None
        picker.close()
        return self._after_tagging(actor, tagged)


def _policy_choice(policy: str) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.radio_group.item(value=policy),
            rx.vstack(
                rx.text(POLICY_LABELS[policy], size="2", weight="medium"),
                rx.text(POLICY_HINTS[policy], size="1", color_scheme="gray"),
                spacing="0",
            ),
            align="start",
            spacing="2",
        ),
    )


def tag_picker_dialog(on_submit: Callable[[Any], Any]) -> rx.Component:
    s = TagPickerState
    body = rx.vstack(
        rx.vstack(
            rx.el.label("Tag group", id="tag-picker-group-label", style={"fontWeight": 500, "fontSize": "14px"}),
            rx.select.root(
                rx.select.trigger(
                    placeholder="Choose a tag group", aria_labelledby="tag-picker-group-label", width="100%"
                ),
                rx.select.content(rx.foreach(s.group_choices, lambda c: rx.select.item(c.label, value=c.value))),
                value=s.group_id,
                on_change=s.choose_group,
            ),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.el.label("Tag", id="tag-picker-tag-label", style={"fontWeight": 500, "fontSize": "14px"}),
            rx.select.root(
                rx.select.trigger(placeholder="Choose a tag", aria_labelledby="tag-picker-tag-label", width="100%"),
                rx.select.content(rx.foreach(s.tag_choices, lambda c: rx.select.item(c.label, value=c.value))),
                value=s.tag_id,
                on_change=s.choose_tag,
                disabled=s.group_id == "",
            ),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.el.label("Tag value", html_for="tag-picker-value", style={"fontWeight": 500, "fontSize": "14px"}),
            rx.input(
                id="tag-picker-value",
                name="tag_value",
                width="100%",
                placeholder=rx.cond(s.tag_kind == "multi", "A value (required)", "A value (optional)"),
                custom_attrs={"list": "tag-picker-suggestions", "autoComplete": "off"},
            ),
            rx.el.datalist(rx.foreach(s.suggestions, lambda v: rx.el.option(value=v)), id="tag-picker-suggestions"),
            spacing="1",
            width="100%",
        ),
        rx.cond(
            s.with_policy,
            rx.el.fieldset(
                rx.el.legend(rx.text(POLICY_QUESTION, size="2", weight="medium")),
                rx.radio_group.root(
                    rx.vstack(_policy_choice("overwrite"), _policy_choice("ignore"), spacing="2"),
                    name="policy",
                    default_value="overwrite",
                ),
                style={"border": "none", "padding": 0, "margin": 0},
            ),
        ),
        spacing="3",
        width="100%",
    )
    return form_dialog(
        title=s.title,
        description=s.description,
        body=body,
        is_open=s.is_open,
        on_open_change=s.set_open,
        on_submit=on_submit,
        error=s.error,
        form_key=s.form_key,
    )
