"""Delete profiles with a mandatory reason: from the list's selection (at most 100)
and from the User 360 page; GDPR erasure of one person (admins) on User 360 (issue #6).

Hooks: list.py places `delete_selected_button()` in its selection bar and
`delete_selected_dialog()` beside its dialogs; detail.py places `delete_profile_button()`
in its header and `delete_profile_dialog()` beside its dialogs. State: delete_state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from ...components.dialogs import confirm_dialog, field_error, field_label, form_dialog
from ...services.permissions import TRASH_MANAGE
from ...state.base import AppState
from .common import PROFILES_DELETE
from .delete_state import ONE_PROFILE, SELECTION, DeleteState, EraseState
from .detail_state import ProfileDetailState

D = DeleteState
E = EraseState
REASON_MAX_CHARS = 500


def _has(permission: str) -> rx.Var:
    return AppState.permissions.contains(permission)


def reason_dialog(
    *,
    id: str,
    title: rx.Var | str,
    note: rx.Var | str,
    is_open: rx.Var,
    on_open_change: Callable[[Any], Any],
    on_submit: Callable[[Any], Any],
    reason_error: rx.Var,
    submit_label: rx.Var | str,
    form_key: rx.Var,
    error: rx.Var | str = "",
    reason_shown: rx.Var | str = "",
    danger: bool = True,
) -> rx.Component:
    """A modal dialog asking for a mandatory reason, with a warning `note` and a (red)
    confirm button. The reason is checked on the server (an empty one is refused inline)."""
    reason = rx.vstack(
        field_label("Reason", html_for=id, required=True),
        rx.text_area(
            id=id,
            name="reason",
            default_value=reason_shown,
            rows="3",
            max_length=REASON_MAX_CHARS,
            width="100%",
            placeholder="Why? It is kept in the audit log.",
            aria_required="true",
            aria_invalid=rx.cond(reason_error != "", "true", "false"),
            aria_describedby=f"{id}-error",
        ),
        field_error(reason_error, id=f"{id}-error"),
        spacing="1",
        width="100%",
    )
    return form_dialog(
        title=title,
        note=note,
        body=reason,
        is_open=is_open,
        on_open_change=on_open_change,
        on_submit=on_submit,
        error=error,
        submit_label=submit_label,
        danger=danger,
        form_key=form_key,
    )


def _delete_dialog(mode: str) -> rx.Component:
    return reason_dialog(
        id=f"delete-reason-{mode}",
        title=D.title,
        note=D.consequence,
        is_open=D.is_open & (D.mode == mode),
        on_open_change=D.set_open,
        on_submit=D.confirm,
        reason_error=D.reason_error,
        error=D.error,
        submit_label=D.confirm_label,
        form_key=D.form_key,
    )


# ------------------------------------------------------------ the list's selection
def delete_selected_button() -> rx.Component:
    return rx.cond(
        _has(PROFILES_DELETE),
        rx.button(
            rx.icon("trash_2", size=14, aria_hidden="true"),
            "Delete",
            size="2",
            variant="soft",
            color_scheme="red",
            on_click=D.open_for_selection,
        ),
    )


def delete_selected_dialog() -> rx.Component:
    return _delete_dialog(SELECTION)


# ------------------------------------------------------------ User 360
def delete_profile_button() -> rx.Component:
    return rx.cond(
        ProfileDetailState.status != "deleted",
        rx.fragment(
            rx.cond(
                _has(PROFILES_DELETE) & _has(TRASH_MANAGE),
                rx.button(
                    rx.icon("eraser", size=16, aria_hidden="true"),
                    "Erase personal data",
                    variant="outline",
                    color_scheme="red",
                    on_click=E.start,
                ),
            ),
            rx.cond(
                _has(PROFILES_DELETE),
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("trash_2", size=16, aria_hidden="true"),
                        color_scheme="red",
                        variant="soft",
                        aria_label="Delete profile",
                        on_click=D.open_for_profile,
                    ),
                    content="Delete profile",
                ),
            ),
        ),
    )


def delete_profile_dialog() -> rx.Component:
    return rx.fragment(
        _delete_dialog(ONE_PROFILE),
        reason_dialog(
            id="erase-reason",
            title="Erase this person's personal data (GDPR)?",
            note=(
                "Erasure removes the profile with its identities, tags, consent, memberships "
                "and links immediately and for good: it cannot be restored. Only an audit "
                "record without personal data is kept, so do not put names, e-mails or "
                "phone numbers in the reason."
            ),
            is_open=E.step == 1,
            on_open_change=E.set_reason_open,
            on_submit=E.check_reason,
            reason_error=E.reason_error,
            reason_shown=E.reason_shown,
            submit_label="Continue",
            form_key=E.form_key,
        ),
        confirm_dialog(
            title="Erase for good?",
            message=("This is the last step: the person's personal data will be gone and cannot be brought back."),
            is_open=E.step == 2,
            on_open_change=E.set_confirm_open,
            on_confirm=E.erase,
            confirm_label="Erase for good",
            danger=True,
        ),
    )
