"""Possible duplicates (/duplicates, marketers and admins): pairs of profiles that look like
one person, best score first, side by side with the agreeing fields highlighted and the
reasons in words; Merge (choosing the surviving values), Not the same person, Skip, and
merging several pairs at once. State: duplicates_state.py."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..components.dialogs import confirm_dialog, field_label, form_dialog
from ..components.pagination import pagination
from ..components.shell import shell
from .duplicates_state import SCORE_CHOICES, STATUS_CHOICES, DuplicatesState, PairCard, PairField
from .profiles.merge_dialog import differing_row  # the merge dialog's own choice of a field's value

TITLE = "Possible duplicates"
S = DuplicatesState
# agreeing fields in green, nearly agreeing in amber (the words say which too)
_STATE_COLORS = {"same": rx.color("green", 3), "near": rx.color("amber", 3)}
THRESHOLD_NOTE = (
    "Pairs scoring at least the minimum score are shown. A lower minimum finds more of the real "
    "duplicates (recall) but also shows more pairs of different people (precision); a higher one "
    "shows fewer strangers and misses more duplicates. On our labelled test set, 70% (the default) "
    "found 90% of the duplicates with 96% of its suggestions right; 90% found 80% with 99% right; "
    "50% found 93% with 90% right."
)


def _select(label: str, id_: str, name: str, value: rx.Var, options: list) -> rx.Component:
    return rx.hstack(
        field_label(label, html_for=id_),
        rx.el.select(*options, id=id_, value=value, on_change=lambda v: S.set_filter(name, v)),
        align="center",
        spacing="2",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        _select(
            "Minimum score",
            "dup-min-score",
            "min_score",
            S.min_score,
            [rx.el.option(f"{float(v):.0%}", value=v) for v in SCORE_CHOICES],
        ),
        _select(
            "Import",
            "dup-import",
            "import_id",
            S.import_id,
            [
                rx.el.option("All imports and scans", value="all"),
                rx.foreach(S.imports, lambda item: rx.el.option(item[1], value=item[0])),
            ],
        ),
        _select(
            "Show",
            "dup-status",
            "status",
            S.status,
            [rx.el.option(label, value=value) for value, label in STATUS_CHOICES],
        ),
        spacing="5",
        wrap="wrap",
        align="center",
    )


def _field_row(field: PairField) -> rx.Component:
    background = rx.match(field.state, ("same", _STATE_COLORS["same"]), ("near", _STATE_COLORS["near"]), "transparent")
    return rx.table.row(
        rx.table.row_header_cell(field.label),
        rx.table.cell(field.a),
        rx.table.cell(field.b),
        rx.table.cell(
            rx.match(field.state, ("same", "same"), ("near", "nearly"), ("differ", "differs"), ""), color_scheme="gray"
        ),
        background_color=background,
    )


def _card(card: PairCard) -> rx.Component:
    actions = rx.cond(
        S.status == "open",
        rx.hstack(
            rx.button("Merge…", size="2", on_click=S.open_merge(card.id), aria_label="Merge " + card.title),
            rx.button(
                "Not the same person",
                size="2",
                variant="soft",
                color_scheme="gray",
                on_click=S.decide(card.id, "not_same"),
                aria_label="Not the same person: " + card.title,
            ),
            rx.button(
                "Skip", size="2", variant="ghost", on_click=S.decide(card.id, "skip"), aria_label="Skip " + card.title
            ),
            spacing="2",
        ),
    )
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.cond(
                    S.status == "open",
                    rx.checkbox(
                        checked=S.selected.contains(card.id),
                        on_change=lambda c: S.toggle(card.id, c),
                        aria_label="Select " + card.title,
                    ),
                ),
                rx.heading("Profiles ", card.title, size="3", as_="h2"),
                rx.badge("Score " + card.score, size="2", color_scheme="blue"),
                rx.text(card.import_text, size="1", color_scheme="gray"),
                align="center",
                spacing="3",
            ),
            rx.text(card.reasons, size="2"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Field"),
                        rx.table.column_header_cell(
                            rx.link("Profile #" + card.a_id, href=routes.PROFILES + "/" + card.a_id)
                        ),
                        rx.table.column_header_cell(
                            rx.link("Profile #" + card.b_id, href=routes.PROFILES + "/" + card.b_id)
                        ),
                        rx.table.column_header_cell("Agree?"),
                    )
                ),
                rx.table.body(rx.foreach(card.fields, _field_row)),
                size="1",
                width="100%",
            ),
            actions,
            spacing="2",
            width="100%",
        ),
        role="region",
        aria_label="Possible duplicate " + card.title,
        width="100%",
    )


def _merge_dialog() -> rx.Component:
    body = rx.vstack(
        rx.cond(
            S.choices.length() > 0,
            rx.vstack(
                rx.heading("Choose the value to keep (the suggestion is selected)", size="2", as_="h3"),
                rx.foreach(S.choices, differing_row),
                spacing="2",
                width="100%",
            ),
            rx.text("The two profiles agree on every field.", size="2"),
        ),
        rx.text(
            "Identities, tags, segments, groups, consent, linked objects and history move to the "
            "surviving profile; the merge can be undone from its User 360 page.",
            size="1",
            color_scheme="gray",
        ),
        field_label("Reason (optional: the pair's reasons are kept otherwise)", html_for="dup-merge-reason"),
        rx.text_area(id="dup-merge-reason", name="reason", rows="2", max_length=500, width="100%"),
        spacing="3",
        width="100%",
    )
    return form_dialog(
        title=S.merge_title,
        body=body,
        is_open=S.merge_open,
        on_open_change=S.set_merge_open,
        on_submit=S.confirm_merge,
        error=S.merge_error,
        submit_label="Merge",
        max_width="720px",
        form_key=S.merge_pair,
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.text(THRESHOLD_NOTE, size="2", color_scheme="gray"),
        _filters(),
        rx.hstack(
            rx.cond(S.selected.length() > 0, rx.text(S.selection_text, size="2", weight="medium", role="status")),
            rx.button(
                rx.icon("merge", size=16, aria_hidden="true"),
                "Merge selected pairs",
                disabled=S.selected.length() == 0,
                on_click=S.set_bulk_open(True),
            ),
            spacing="3",
            align="center",
        ),
        rx.cond(
            S.result != "", rx.callout(S.result, icon="circle_check", color_scheme="green", role="status", width="100%")
        ),
        rx.cond(
            S.cards.length() == 0,
            rx.text("No possible duplicates with these filters.", size="2"),
            rx.vstack(rx.foreach(S.cards, _card), spacing="3", width="100%"),
        ),
        pagination(
            page=S.page,
            pages=S.pages,
            total_text=S.total_text,
            page_size=S.page_size,
            on_page=S.go_to_page,
            on_page_size=S.set_page_size,
        ),
        _merge_dialog(),
        confirm_dialog(
            title="Merge the selected pairs?",
            message=S.selection_text + ". Each pair is merged with the suggested values (the older profile "
            "survives; empty fields take the other's value). Every merge can be undone on User 360.",
            is_open=S.bulk_open,
            on_open_change=S.set_bulk_open,
            on_confirm=S.merge_selected,
            confirm_label="Merge pairs",
        ),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.DUPLICATES, title=TITLE)
