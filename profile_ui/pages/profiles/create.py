"""/profiles/new: create one profile by hand — identification (the fields an admin marked
"required on create", and a phone or an e-mail), extra attributes, consent per channel,
then Save. When the sync rule matches an existing profile, that profile is updated and
the user is told so and taken to it."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ... import routes
from ...components.dialogs import labelled_input
from ...components.shell import shell
from ...db import session_scope
from ...services import profile_edit
from ...services.importing import IDENTITY_PREFIX
from ...services.profile_edit import ProfileValidationError
from ...services.profiles import ProfileError
from ...services.workspace_settings import consent_channels, list_fields, list_identity_kinds
from ...state.base import AppState, guarded
from .common import Choice
from .detail_state import TYPE_HINTS

TITLE = "New profile"
CONSENT_PREFIX = "consent:"
CONSENT_CHOICES = (("granted", "Granted"), ("denied", "Denied"), ("unknown", "Unknown"))


@dataclasses.dataclass
class FieldInput:
    key: str  # the form name: a field key or "identity:<kind>"
    label: str
    required: bool
    hint: str
    options: list[str]


class ProfileCreateState(AppState):
    required_fields: list[FieldInput] = []
    identity_inputs: list[FieldInput] = []
    extra_fields: list[FieldInput] = []
    channels: list[Choice] = []
    errors: dict[str, str] = {}
    form_key: int = 0
    saving: bool = False

    def _all_keys(self) -> list[str]:
        return [f.key for f in (*self.required_fields, *self.identity_inputs, *self.extra_fields)] + [
            CONSENT_PREFIX + c.value for c in self.channels
        ]

    @rx.event
    @guarded
    def on_load(self) -> None:
        actor = self._enter_page(routes.PROFILE_NEW)
        if actor is None:
            return
        with session_scope() as session:
            fields = list_fields(session=session, actor=actor)
            kinds = list_identity_kinds(session=session, actor=actor)
        self.required_fields = [
            FieldInput(f.key, f.label, True, TYPE_HINTS.get(f.type, ""), list(f.options or []))
            for f in fields
            if f.required_on_create
        ]
        labels = {"email": "E-mail", "phone": "Phone"}
        self.identity_inputs = [
            FieldInput(IDENTITY_PREFIX + k.key, labels.get(k.key, k.label), False, TYPE_HINTS.get(k.key, ""), [])
            for k in kinds
        ]
        self.extra_fields = [
            FieldInput(f.key, f.label, False, TYPE_HINTS.get(f.type, ""), list(f.options or []))
            for f in fields
            if not f.required_on_create
        ]
        self.channels = [Choice(channel, label) for channel, label in consent_channels()]
        self.errors = dict.fromkeys(self._all_keys(), "")
        self.form_key += 1

    @rx.event
    @guarded
    def save(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        text = {k: str(v or "") for k, v in form_data.items()}
        values = {
            f.key: text.get(f.key, "")
            for f in (*self.required_fields, *self.extra_fields)
            if text.get(f.key, "").strip() or f.required
        }
        identities = {
            f.key[len(IDENTITY_PREFIX) :]: text.get(f.key, "")
            for f in self.identity_inputs
            if text.get(f.key, "").strip()
        }
        consent = {
            c.value: text.get(CONSENT_PREFIX + c.value, "")
            for c in self.channels
            if text.get(CONSENT_PREFIX + c.value, "")
        }
        try:
            with session_scope() as session:
                result = profile_edit.create_profile(
                    session=session, actor=actor, values=values, identities=identities, consent=consent
                )
        except ProfileValidationError as exc:
            self.errors = {key: exc.errors.get(key, "") for key in self._all_keys()}
            unplaced = [m for k, m in exc.errors.items() if k not in self.errors]
            return rx.toast.error("Please fix the marked fields" + (": " + "; ".join(unplaced) if unplaced else ""))
        except ProfileError as exc:
            return rx.toast.error(str(exc))
        self.errors = dict.fromkeys(self._all_keys(), "")
        toast = (
            rx.toast.info(result.message, duration=10_000)
            if result.matched_existing
            else rx.toast.success(result.message)
        )
        return [toast, rx.redirect(routes.profile_url(result.profile_id))]


S = ProfileCreateState


def _input(field: FieldInput) -> rx.Component:
    return rx.fragment(
        labelled_input(
            field.label,
            name=field.key,
            id="new-" + field.key,
            error=S.errors[field.key].to(str),
            required=field.required,
            placeholder=field.hint,
            custom_attrs={"list": "new-choices-" + field.key, "autoComplete": "off"},
        ),
        rx.el.datalist(rx.foreach(field.options, lambda o: rx.el.option(value=o)), id="new-choices-" + field.key),
    )


def _consent_row(channel: Choice) -> rx.Component:
    name = CONSENT_PREFIX + channel.value
    return rx.el.fieldset(
        rx.el.legend(rx.text(channel.label, size="2", weight="medium")),
        rx.radio_group.root(
            rx.hstack(
                *[
                    rx.el.label(
                        rx.hstack(
                            rx.radio_group.item(value=value), rx.text(label, size="2"), align="center", spacing="1"
                        )
                    )
                    for value, label in CONSENT_CHOICES
                ],
                spacing="4",
            ),
            name=name,
        ),
        rx.cond(
            S.errors[name].to(str) != "", rx.text(S.errors[name].to(str), color_scheme="red", size="1", role="alert")
        ),
        style={"border": "none", "padding": 0, "margin": 0},
    )


def _section(title: str, description: str, body: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4", as_="h2"),
            rx.text(description, size="2", color_scheme="gray"),
            body,
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def content() -> rx.Component:
    return rx.form(
        rx.vstack(
            _section(
                "1. Identification",
                "Fields marked * are required. Enter a phone number or an e-mail address "
                "(or both); if they already belong to a profile, that profile is updated.",
                rx.grid(
                    rx.foreach(S.required_fields, _input),
                    rx.foreach(S.identity_inputs, _input),
                    columns="2",
                    spacing="3",
                    width="100%",
                ),
            ),
            _section(
                "2. Extra attributes",
                "Optional.",
                rx.grid(rx.foreach(S.extra_fields, _input), columns="2", spacing="3", width="100%"),
            ),
            _section(
                "3. Consent",
                "Leave a channel unset when consent was not asked.",
                rx.vstack(rx.foreach(S.channels, _consent_row), spacing="3"),
            ),
            rx.hstack(
                rx.link("Cancel", href=routes.PROFILES),
                rx.button(rx.icon("save", size=16, aria_hidden="true"), "Save", type="submit", size="3"),
                justify="end",
                align="center",
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
            max_width="860px",
        ),
        on_submit=S.save,
        reset_on_submit=False,
        key=S.form_key,
        aria_label="New profile",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.PROFILE_NEW, title=TITLE)
