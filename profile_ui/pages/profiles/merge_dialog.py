"""Merge two profiles and undo a merge (issue #13), as pieces the pages place:

- list.py: `merge_selected_button()` in the selection bar (shown with exactly two selected)
  and `merge_dialog()` beside its dialogs;
- detail.py: `merge_with_button()` in the header, `merged_from_panel()` above the tabs
  (the "merged from #id …" lines with Unmerge, and what the last unmerge did),
  `merged_into_notice()` where a merged-away profile's page says it is missing, and
  `merge_dialog()` + `unmerge_dialog()` beside its dialogs;
- audit.py: `undo_merge_button(line)` on a profile.merge event, and `unmerge_dialog()`.
Viewers (no profiles.merge) see none of the controls. State: merge_state.py.
"""

from __future__ import annotations

import reflex as rx

from ... import routes
from ...components.dialogs import confirm_dialog, field_error, field_label, form_dialog, labelled_input
from ...services.permissions import PROFILES_MERGE
from ...state.base import AppState
from ...state.merge_choices import KEEP_FIELD, MergeRow
from .list_state import ProfilesListState
from .merge_state import STEP_ASK, STEP_CHOOSE, MergedFrom, MergeDialogState, UnmergeState

M = MergeDialogState
U = UnmergeState


def _can_merge() -> rx.Var:
    return AppState.permissions.contains(PROFILES_MERGE)


# ------------------------------------------------------------ the list and User 360 buttons
def merge_selected_button() -> rx.Component:
    listing = ProfilesListState
    return rx.cond(
        _can_merge() & ~listing.all_matching & (listing.selected.length() == 2),
        rx.button(
            rx.icon("merge", size=14, aria_hidden="true"),
            "Merge",
            size="2",
            variant="soft",
            on_click=M.open_for_selection,
        ),
    )


def merge_with_button() -> rx.Component:
    return rx.cond(
        _can_merge(),
        rx.button(
            rx.icon("merge", size=16, aria_hidden="true"), "Merge with…", variant="soft", on_click=M.open_for_profile
        ),
    )


# ------------------------------------------------------------ the dialog
def _choice(row: MergeRow, side: str, text: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.el.input(type="radio", name=KEEP_FIELD + row.key, value=side, default_checked=row.suggested == side),
        rx.text(text, size="2", as_="span"),
        style={"display": "flex", "gap": "6px", "alignItems": "center"},
    )


def differing_row(row: MergeRow) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(row.label, size="2", weight="bold")),
        rx.grid(
            _choice(row, "survivor", row.survivor_text),
            _choice(row, "merged", row.merged_text),
            columns="2",
            spacing="3",
            width="100%",
        ),
        style={"border": "1px solid var(--gray-5)", "borderRadius": "6px", "padding": "6px 10px", "margin": 0},
    )


def _agreeing_row(row: MergeRow) -> rx.Component:
    return rx.el.li(rx.text(row.label, ": ", row.survivor_text, size="2"), list_style="none")


def _choose_body() -> rx.Component:
    return rx.vstack(
        rx.grid(
            rx.vstack(
                rx.text("Keeps: #", M.survivor_id, " ", M.survivor_name, size="2", weight="bold"),
                rx.text(M.survivor_identities, size="1", color_scheme="gray"),
                spacing="1",
            ),
            rx.vstack(
                rx.text("Merged into it: #", M.merged_id, " ", M.merged_name, size="2", weight="bold"),
                rx.text(M.merged_identities, size="1", color_scheme="gray"),
                spacing="1",
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.button(
            rx.icon("arrow_left_right", size=14, aria_hidden="true"),
            "Swap which profile survives",
            type="button",
            size="1",
            variant="ghost",
            on_click=M.swap,
        ),
        rx.cond(
            M.differing.length() > 0,
            rx.vstack(
                rx.heading("Choose the value to keep", size="2", as_="h3"),
                rx.foreach(M.differing, differing_row),
                spacing="2",
                width="100%",
            ),
            rx.text("The two profiles agree on every field.", size="2"),
        ),
        rx.cond(
            M.agreeing.length() > 0,
            rx.vstack(
                rx.heading("Same in both", size="2", as_="h3"),
                rx.el.ul(
                    rx.foreach(M.agreeing, _agreeing_row), aria_label="Same in both", style={"padding": 0, "margin": 0}
                ),
                spacing="1",
                width="100%",
            ),
        ),
        rx.text(
            "Identities, tags, segments, groups, consent, linked objects and history move to the "
            "surviving profile. The merge can be undone from its User 360 page.",
            size="1",
            color_scheme="gray",
        ),
        rx.vstack(
            field_label("Reason", html_for="merge-reason", required=True),
            rx.text_area(
                id="merge-reason",
                name="reason",
                rows="2",
                max_length=1000,
                width="100%",
                placeholder="Why are these the same person? Shown with the merge.",
                aria_required="true",
                aria_describedby="merge-reason-error",
            ),
            field_error(M.reason_error, id="merge-reason-error"),
            spacing="1",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _ask_body() -> rx.Component:
    return labelled_input(
        "Id of the profile to merge into this one", name="other_id", id="merge-other-id", placeholder="e.g. 1234"
    )


def merge_dialog() -> rx.Component:
    return rx.fragment(
        form_dialog(
            title="Merge profile #" + M.survivor_id.to(str) + " with…",
            description="The profile you name is merged into this one; you choose the values next.",
            body=_ask_body(),
            is_open=M.is_open & (M.step == STEP_ASK),
            on_open_change=M.set_open,
            on_submit=M.choose_other,
            error=M.error,
            submit_label="Next",
            form_key=M.form_key,
        ),
        form_dialog(
            title="Merge two profiles",
            body=_choose_body(),
            is_open=M.is_open & (M.step == STEP_CHOOSE),
            on_open_change=M.set_open,
            on_submit=M.confirm,
            error=M.error,
            submit_label="Merge",
            max_width="720px",
            form_key=M.form_key,
        ),
    )


# ------------------------------------------------------------ merged from, unmerge
def _merged_from_line(line: MergedFrom) -> rx.Component:
    return rx.hstack(
        rx.icon("merge", size=16, aria_hidden="true"),
        rx.text(line.text, size="2"),
        rx.spacer(),
        rx.cond(
            _can_merge(),
            rx.button(
                "Unmerge",
                size="1",
                variant="soft",
                color_scheme="orange",
                on_click=U.ask(line.merge_id),
                aria_label="Unmerge profile #" + line.merged_id.to(str),
            ),
        ),
        align="center",
        spacing="2",
        width="100%",
    )


def merged_from_panel() -> rx.Component:
    return rx.fragment(
        rx.cond(
            U.result_lines.length() > 0,
            rx.callout.root(
                rx.callout.icon(rx.icon("undo_2", aria_hidden="true")),
                rx.vstack(
                    rx.foreach(U.result_lines, lambda line: rx.text(line, size="2")),
                    rx.hstack(
                        rx.link(
                            "Open profile #", U.result_survivor, href=routes.PROFILES + "/" + U.result_survivor.to(str)
                        ),
                        rx.link(
                            "Open profile #", U.result_merged, href=routes.PROFILES + "/" + U.result_merged.to(str)
                        ),
                        rx.button("Dismiss", size="1", variant="ghost", on_click=U.dismiss_result),
                        spacing="4",
                        align="center",
                    ),
                    spacing="1",
                ),
                color_scheme="green",
                role="status",
                aria_label="Unmerge result",
                width="100%",
            ),
        ),
        rx.cond(
            U.merged_from.length() > 0,
            rx.card(
                rx.vstack(rx.foreach(U.merged_from, _merged_from_line), spacing="2", width="100%"),
                width="100%",
                aria_label="Merged profiles",
                role="region",
            ),
        ),
    )


def merged_into_notice() -> rx.Component:
    """On the page of a profile that was merged away: where it went (its page is gone)."""
    return rx.cond(
        U.merged_into_id > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("merge", aria_hidden="true")),
            rx.vstack(
                rx.text(U.merged_into_text, size="2"),
                rx.link("Open profile #", U.merged_into_id, href=routes.PROFILES + "/" + U.merged_into_id.to(str)),
                spacing="1",
            ),
            color_scheme="blue",
            role="status",
            aria_label="Merged into another profile",
            width="100%",
        ),
    )


def unmerge_dialog() -> rx.Component:
    return confirm_dialog(
        title="Unmerge these profiles?",
        message=U.confirm_text,
        is_open=U.confirm_open,
        on_open_change=U.set_confirm_open,
        on_confirm=U.confirm,
        confirm_label="Unmerge",
    )


def undo_merge_button(action: rx.Var, event_id: rx.Var) -> rx.Component:
    return rx.cond(
        _can_merge() & (action == "profile.merge"),
        rx.button("Undo merge", size="1", variant="soft", color_scheme="orange", on_click=U.ask_for_event(event_id)),
    )
