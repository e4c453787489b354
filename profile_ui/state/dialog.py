"""A page substate behind one modal dialog: `is_open`, and `set_open` for the dialog's
`on_open_change` (Cancel, Esc or a click outside close it). Opening goes through the
state's own event, which loads what the dialog shows. Mix it in before AppState:

    class ExportDialogState(DialogMixin, AppState): ...
"""

from __future__ import annotations

import reflex as rx

from .base import guarded


class DialogMixin(rx.State, mixin=True):
    is_open: bool = False

    @rx.event
    @guarded
    def set_open(self, is_open: bool) -> None:
        self._require_actor()  # type: ignore[attr-defined]  # a mixin: AppState, also a base of the page state, has it
        self.is_open = bool(is_open)
