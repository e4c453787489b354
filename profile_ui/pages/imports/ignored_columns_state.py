"""The columns a dry run leaves out: named on the preview (which is also where the import
is confirmed), each with one action to import it after all (as a field, or as a new custom
field), after which the dry run runs again. A mixin on the wizard's vars (wizard/base.py),
mixed into its state (wizard/state.py); ignored_columns.py renders it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx

from ...services.importing import IDENTITY_PREFIX
from ...state.base import guarded
from .wizard.base import WizardBase

IGNORE = "__ignore__"
NEW_FIELD = "__new__"
# a member file's Status column: ignored on purpose (the review reads it), so not listed
MEMBERSHIP_STATUS_NOTE = "Membership status (read by the review)"


def is_left_out(line: Any) -> bool:
    return line.target == IGNORE and line.suggested != MEMBERSHIP_STATUS_NOTE


class IgnoredColumnsMixin(WizardBase, mixin=True):
    if TYPE_CHECKING:  # the preview step's handler (wizard/preview.py), which runs the dry run again
        start_preview: Any

    @rx.var
    def ignored_count(self) -> int:
        return sum(1 for line in self.lines if is_left_out(line))

    @rx.event
    @guarded
    def map_ignored_column(self, header: str, target: str) -> Any:
        """Import a left-out column as `target` (a field, an identifier or NEW_FIELD) and
        run the dry run again with it."""
        self._actor()
        if target in ("", IGNORE) or target not in {c.value for c in self.target_choices}:
            return None
        lines = self.lines
        if target != NEW_FIELD and any(line.target == target for line in lines):
            taken_by = next(line.header for line in lines if line.target == target)
            return rx.toast.error(
                f"“{taken_by}” is already imported into that field; go back to the mapping to change it"
            )
        for line in lines:
            if line.header == header and is_left_out(line):
                line.target = target
                line.is_identity = target.startswith(IDENTITY_PREFIX)
                line.is_identifier = False  # an extra identifier is a choice made on the map step
        self.lines = list(lines)
        # the shown results are the old dry run's: take them away in this same update, so
        # Confirm (enabled only with results) can't confirm them while the new one is queued
        self.preview_totals = []
        self._reset_results()
        return type(self).start_preview
