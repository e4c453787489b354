"""Delete profiles with a mandatory reason: from the list's selection (at most 100)
and from the User 360 page (issue #6).

Placeholder hooks: list.py places `delete_selected_button()` in its selection bar and
`delete_selected_dialog()` beside its dialogs; detail.py places `delete_profile_button()`
in its header and `delete_profile_dialog()` beside its dialogs.
"""

from __future__ import annotations

import reflex as rx


def delete_selected_button() -> rx.Component:
    return rx.fragment()


def delete_selected_dialog() -> rx.Component:
    return rx.fragment()


def delete_profile_button() -> rx.Component:
    return rx.fragment()


def delete_profile_dialog() -> rx.Component:
    return rx.fragment()
