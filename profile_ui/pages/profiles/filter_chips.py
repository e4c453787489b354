"""The profile list's active filters, shown as removable chips above the list, and the
empty-list message that names them (a filter kept from an earlier visit must never
narrow the list silently).

`filter_chips` turns the applied ProfileFilter into (key, text) chips with the names the
filter selects show (group, tag, segment); `without` drops one of them from the filter.
The list state (list_state.py) calls both; the chips component renders them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import reflex as rx

from ...services.profiles import ProfileFilter

STATUS_LABELS = {"active": "Active", "deactivated": "Deactivated"}


@dataclasses.dataclass
class FilterChip:
    key: str  # what `without` removes: q, group, member_level, tag, segment, status, created_from, created_to
    text: str  # "Member level: Gold"


def filter_chips(flt: ProfileFilter, names: dict[str, dict[str, str]]) -> list[FilterChip]:
    """The applied filter as chips; `names` maps "group"/"tag"/"segment" ids (as text) to names."""
    chips: list[FilterChip] = []

    def named(kind: str, value: int) -> str:
        return names.get(kind, {}).get(str(value), f"#{value}")

    if flt.text:
        chips.append(FilterChip("q", f"Search: “{flt.text}”"))
    if flt.group_id:
        chips.append(FilterChip("group", f"Group: {named('group', flt.group_id)}"))
    if flt.member_level:
        chips.append(FilterChip("member_level", f"Member level: {flt.member_level}"))
    for tag_id in flt.tag_ids[:1]:
        value = flt.tag_values.get(tag_id)
        chips.append(FilterChip("tag", f"Tag: {named('tag', tag_id)}" + (f" = {value}" if value else "")))
    if flt.segment_id:
        chips.append(FilterChip("segment", f"Segment: {named('segment', flt.segment_id)}"))
    if flt.status != "active":
        chips.append(FilterChip("status", f"Status: {STATUS_LABELS.get(flt.status, flt.status)}"))
    if flt.created_from:
        chips.append(FilterChip("created_from", f"Created from {flt.created_from.date().isoformat()}"))
    if flt.created_to:
        chips.append(FilterChip("created_to", f"Created to {(flt.created_to - timedelta(days=1)).date().isoformat()}"))
    return chips


# chip key -> the ProfileFilter fields that removing it resets
_CLEARED: dict[str, dict[str, Any]] = {
    "q": {"text": ""},
    "group": {"group_id": None},
    "member_level": {"member_level": None},
    "tag": {"tag_ids": [], "tag_values": {}},
    "segment": {"segment_id": None},
    "status": {"status": "active"},
    "created_from": {"created_from": None},
    "created_to": {"created_to": None},
}


def without(flt: ProfileFilter, key: str) -> ProfileFilter:
    """The filter with the chip `key` removed (an unknown key changes nothing)."""
    cleared = _CLEARED.get(key, {})
    # plain copies: a filter read from state holds the state's proxies of its lists
    plain = {
        "tag_ids": list(flt.tag_ids),
        "tag_values": dict(flt.tag_values),
        "profile_ids": None if flt.profile_ids is None else list(flt.profile_ids),
    }
    return dataclasses.replace(flt, **{**plain, **cleared})


def empty_text(chips: list[FilterChip]) -> str:
    if not chips:
        return "No profiles match."
    return "0 profiles match these filters: " + "; ".join(chip.text for chip in chips) + "."


def active_filters(
    chips: rx.vars.ArrayVar, on_remove: Callable[[rx.Var], Any], on_clear: Callable[[], Any]
) -> rx.Component:
    """The chips row: each chip says the filter and removes it; "Clear all" removes all."""
    return rx.cond(
        chips.length() > 0,
        rx.hstack(
            rx.text("Filters:", size="2", weight="medium"),
            rx.el.ul(
                rx.foreach(
                    chips,
                    lambda chip: rx.el.li(
                        rx.badge(
                            rx.text(chip.text, size="2"),
                            rx.icon_button(
                                rx.icon("x", size=12, aria_hidden="true"),
                                size="1",
                                variant="ghost",
                                aria_label="Remove filter " + chip.text,
                                on_click=on_remove(chip.key),
                            ),
                            variant="soft",
                            size="2",
                            radius="full",
                            style={"display": "inline-flex", "alignItems": "center", "gap": "4px"},
                        ),
                        list_style="none",
                    ),
                ),
                aria_label="Active filters",
                style={"display": "flex", "flexWrap": "wrap", "gap": "6px", "padding": 0, "margin": 0},
            ),
            rx.button("Clear all", size="1", variant="soft", color_scheme="gray", on_click=on_clear),
            align="center",
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
    )
