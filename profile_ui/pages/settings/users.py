"""Settings → Users and roles: who may sign in, with which role; custom roles from
permissions; and the consent channels (fixed)."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ...services import users as accounts
from ...services.workspace_settings import access, consent
from ...state.base import guarded
from ..profiles.common import Choice
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


@dataclasses.dataclass
class UserRow:
    id: int
    email: str
    name: str
    role: str
    active: bool
    last_login: str
    locked: str  # "" or when failed sign-ins locked the account


@dataclasses.dataclass
class RoleRow:
    id: int
    name: str
    description: str
    permissions: str
    users: int
    builtin: bool


class UsersTab(SettingsTabState):
    users: list[UserRow] = []
    roles: list[RoleRow] = []
    role_choices: list[Choice] = []
    permission_names: list[str] = []
    channels: list[Choice] = []

    def _reload(self, session: Any, actor: Any) -> None:
        self.users = [
            UserRow(
                u.id,
                u.email,
                u.full_name,
                role,
                u.is_active,
                f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never",
                f"{u.locked_at:%Y-%m-%d %H:%M} UTC" if u.locked_at else "",
            )
            for u, role in accounts.list_users(session=session, actor=actor)
        ]
        roles = access.list_roles(session=session, actor=actor)
        self.roles = [
            RoleRow(r.id, r.name, r.description, ", ".join(sorted(r.permissions or [])), n, r.is_builtin)
            for r, n in roles
        ]
        self.role_choices = [Choice(r.name, r.name) for r, _ in roles]
        self.permission_names = access.available_permissions(session=session, actor=actor)
        self.channels = [Choice(c, label) for c, label in consent.consent_channels()]

    @rx.event
    @guarded
    def load(self) -> None:
        self._load_tab()

    @rx.event
    @guarded
    def add_user(self, form_data: dict[str, Any]) -> Any:
        email = form_text(form_data, "email")
        return self._change(
            lambda session, actor: accounts.create_user(
                session=session,
                actor=actor,
                email=email,
                password=form_text(form_data, "password"),
                role=form_text(form_data, "role"),
                full_name=form_text(form_data, "name"),
            ),
            f"User {email.strip().lower()} added",
        )

    @rx.event
    @guarded
    def change_role(self, user_id: int, role: str) -> Any:
        return self._change(
            lambda session, actor: accounts.change_role(session=session, actor=actor, user_id=int(user_id), role=role),
            f"Role changed to {role}",
        )

    @rx.event
    @guarded
    def set_active(self, user_id: int, active: bool) -> Any:
        return self._change(
            lambda session, actor: access.set_user_active(
                session=session, actor=actor, user_id=int(user_id), active=bool(active)
            ),
            "User reactivated" if active else "User deactivated: signed out and cannot sign in",
        )

    @rx.event
    @guarded
    def unlock(self, user_id: int) -> Any:
        return self._change(
            lambda session, actor: accounts.unlock_user(session=session, actor=actor, user_id=int(user_id)),
            "Unlocked: the user can sign in again",
        )

    @rx.event
    @guarded
    def add_role(self, form_data: dict[str, Any]) -> Any:
        name = form_text(form_data, "name")
        permissions = [p for p in self.permission_names if ticked(form_data, "perm:" + p)]
        return self._change(
            lambda session, actor: access.create_role(
                session=session,
                actor=actor,
                name=name,
                permissions=permissions,
                description=form_text(form_data, "description"),
            ),
            f"Role '{name.strip()}' added",
        )

    @rx.event
    @guarded
    def delete_role(self, role_id: int) -> Any:
        return self._change(
            lambda session, actor: access.delete_role(session=session, actor=actor, role_id=int(role_id)),
            "Role deleted",
        )


def _user_row(user: UserRow) -> rx.Component:
    t = UsersTab
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(user.email, weight="medium"), rx.text(user.name, size="1", color_scheme="gray"), spacing="0"
            )
        ),
        rx.table.cell(
            rx.el.select(
                rx.foreach(t.role_choices, lambda c: rx.el.option(c.label, value=c.value)),
                value=user.role,
                on_change=lambda v: t.change_role(user.id, v),
                aria_label="Role of " + user.email,
                style={"height": "28px", "borderRadius": "6px"},
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=user.active, on_change=lambda v: t.set_active(user.id, v), aria_label="Active: " + user.email
            )
        ),
        rx.table.cell(rx.text(user.last_login, size="1")),
        rx.table.cell(
            rx.cond(
                user.locked != "",
                rx.hstack(
                    rx.badge("Locked since " + user.locked, color_scheme="red", variant="soft"),
                    rx.button(
                        "Unlock",
                        size="1",
                        variant="soft",
                        on_click=t.unlock(user.id),
                        aria_label="Unlock " + user.email,
                    ),
                    spacing="2",
                    align="center",
                ),
                rx.text("Not locked", size="1", color_scheme="gray"),
            )
        ),
    )


def _role_row(role: RoleRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(role.name, weight="medium"),
                rx.text(role.description, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(role.permissions, size="1")),
        rx.table.cell(role.users),
        rx.table.cell(
            rx.cond(
                role.builtin,
                rx.badge("Built in", variant="soft", color_scheme="gray"),
                delete_button("Delete role " + role.name, UsersTab.delete_role(role.id)),
            )
        ),
    )


def users_tab() -> rx.Component:
    t = UsersTab
    return rx.vstack(
        tab_intro("Users sign in with their e-mail; their role decides what they may do."),
        settings_table(("User", "Role", "Active", "Last sign-in", "Sign-in lock"), t.users, _user_row),
        add_form(
            "New user",
            text_field("E-mail", "email", id="user-email", type="email"),
            text_field("Name", "name", id="user-name"),
            text_field(
                "Password", "password", id="user-password", type="password", placeholder="at least 8 characters"
            ),
            native_select("Role", "role", id="user-role", option_var=t.role_choices, default="viewer"),
            on_submit=t.add_user,
            submit_label="Add user",
        ),
        rx.heading("Roles", size="3", as_="h3"),
        settings_table(("Role", "Permissions", "Users", ""), t.roles, _role_row),
        add_form(
            "New role",
            text_field("Name", "name", id="role-name"),
            text_field("Description", "description", id="role-description", width="300px"),
            rx.el.fieldset(
                rx.el.legend(rx.text("Permissions", size="2", weight="medium")),
                rx.flex(
                    rx.foreach(t.permission_names, lambda p: form_checkbox(p, "perm:" + p)), wrap="wrap", spacing="3"
                ),
                style={"border": "none", "padding": 0, "margin": 0, "width": "100%"},
            ),
            on_submit=t.add_role,
            submit_label="Add role",
        ),
        rx.heading("Consent channels", size="3", as_="h3"),
        rx.text("Consent is recorded per channel; the channels are fixed.", size="2", color_scheme="gray"),
        rx.el.ul(
            rx.foreach(t.channels, lambda c: rx.el.li(rx.text(c.label, " (", c.value, ")", size="2"))),
            aria_label="Consent channels",
        ),
        spacing="4",
        width="100%",
    )
