"""Choosing the surviving value of each field of two profiles about to be merged: the
dialog's rows of a merge preview, and the values its form chose. The same flow serves the
Merge dialog of the profiles pages (pages/profiles/merge_state.py) and the duplicates
review (pages/duplicates_state.py); pages/profiles/merge_dialog.py draws the rows.

The values themselves stay on the server (`_merge_values`, from the preview the server
made); the form only says, per field, which side to keep.

    class MergeDialogState(MergeChoicesMixin, DialogMixin, AppState): ...
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ..services.merging import MergePreview

KEEP_FIELD = "keep-"  # the form's radio group of a field is named KEEP_FIELD + its key
SIDES = ("survivor", "merged")


@dataclasses.dataclass
class MergeRow:
    """One field of the two profiles in the dialog."""

    key: str
    label: str
    survivor_text: str
    merged_text: str
    same: bool
    suggested: str  # "survivor" | "merged"


def merge_rows(preview: MergePreview) -> list[MergeRow]:
    return [
        MergeRow(
            key=f.key,
            label=f.label,
            survivor_text=f.survivor_text or "—",
            merged_text=f.merged_text or "—",
            same=f.same,
            suggested=f.suggested,
        )
        for f in preview.fields
    ]


class MergeChoicesMixin(rx.State, mixin=True):
    _merge_values: dict[str, list[Any]] = {}  # field key -> [survivor's value, merged one's]

    def _keep_preview(self, preview: MergePreview) -> list[MergeRow]:
        """Remember the preview's values; its rows, for the dialog."""
        self._merge_values = {f.key: [f.survivor_value, f.merged_value] for f in preview.fields}
        return merge_rows(preview)

    def _chosen_values(self, form_data: dict[str, Any]) -> dict[str, Any]:
        """The value kept of each field the form chose a side for (looked up server-side)."""
        chosen = {}
        for key, (survivor_value, merged_value) in self._merge_values.items():
            keep = str(form_data.get(KEEP_FIELD + key) or "")
            if keep in SIDES:
                chosen[key] = survivor_value if keep == "survivor" else merged_value
        return chosen

    def _forget_preview(self) -> None:
        self._merge_values = {}
