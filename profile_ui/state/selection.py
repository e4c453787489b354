"""Row selection of a table page: ids (strings, as the browser sends them) held by the state."""

from __future__ import annotations

from collections.abc import Collection


def toggled(selected: list[str], row_id: str, checked: bool, selectable: Collection[str]) -> list[str]:
    """`selected` with `row_id` checked or unchecked; only ids in `selectable` (the rows
    shown that may be selected) are added, whatever the browser sends."""
    if checked and row_id not in selected and row_id in selectable:
        return [*selected, row_id]
    if not checked:
        return [i for i in selected if i != row_id]
    return selected
