"""Export from the profile list: the Export button and its dialog (issue #6).

Placeholder hooks: list.py places `export_button()` in its toolbar and
`export_dialog()` beside the other dialogs; this module owns both.
"""

from __future__ import annotations

import reflex as rx


def export_button() -> rx.Component:
    return rx.fragment()


def export_dialog() -> rx.Component:
    return rx.fragment()
