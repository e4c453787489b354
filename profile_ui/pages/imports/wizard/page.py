"""/imports/new: the import wizard (source, sheet, identify and map, values, options,
preview, confirm). Behaviour is in state.py and its step mixins."""

from __future__ import annotations

import reflex as rx

from .... import routes
from ....components.row_results import error_file_button, outcome_select, row_results_table
from ....components.shell import shell
from ....components.table_caption import hidden_caption
from ....services.importing import limits
from ....services.uploads import ALLOWED_SUFFIXES
from ....settings import get_settings
from ..ignored_columns import ignored_columns
from ..upload_zone import upload_zone
from .choices import (
    POLICIES,
    STEP_LABELS,
    STEPS,
    ChoiceField,
    ColumnLine,
    PreviewTotal,
    TargetChoice,
    UploadedFile,
    ValueLine,
)
from .state import ImportUploadState

TITLE = "New import"
S = ImportUploadState


def _step_counter() -> rx.Component:
    """The current step as visible text, not only by colour and aria-current."""
    return rx.text(
        rx.match(
            S.step, *[(step, f"Step {i + 1} of {len(STEPS)}: {STEP_LABELS[step]}") for i, step in enumerate(STEPS)], ""
        ),
        size="3",
        weight="bold",
    )


def _steps() -> rx.Component:
    return rx.el.ol(
        *[
            rx.el.li(
                rx.text(
                    f"{i + 1}. {STEP_LABELS[step]}",
                    size="2",
                    weight=rx.cond(S.step == step, "bold", "regular"),
                    color_scheme=rx.cond(S.step == step, "indigo", "gray"),
                ),
                aria_current=rx.cond(S.step == step, "step", "false"),
                style={"listStyle": "none"},
            )
            for i, step in enumerate(STEPS)
        ],
        aria_label="Import steps",
        style={"display": "flex", "gap": "1.25em", "padding": 0, "flexWrap": "wrap"},
    )


def _errors(items: rx.Var) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert", size=16)),
            rx.el.ul(rx.foreach(items, lambda m: rx.el.li(rx.text(m)))),
            color_scheme="red",
            role="alert",
            width="100%",
        ),
    )


def _step_error() -> rx.Component:
    return rx.cond(
        S.step_error != "",
        rx.callout.root(rx.callout.text(S.step_error), color_scheme="red", role="alert", width="100%"),
    )


def _busy() -> rx.Component:
    return rx.cond(S.busy != "", rx.hstack(rx.spinner(size="2"), rx.text(S.busy, role="status"), align="center"))


# ------------------------------------------------------------ source
def _file_row(item: UploadedFile, index: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.icon("file_check", size=16, aria_hidden="true"),
            rx.text(item.name, weight="medium"),
            rx.text(item.size, color_scheme="gray"),
            rx.cond(item.sheets.length() > 1, rx.badge(f"{item.sheets.length()} sheets", color_scheme="amber")),
            rx.button(
                "Remove",
                size="1",
                variant="ghost",
                color_scheme="red",
                aria_label=f"Remove {item.name}",
                on_click=S.remove_file(index),
            ),
            align="center",
        )
    )


def _group_pick() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.el.label("Group", html_for="membership-group"),
            rx.el.select(
                rx.el.option("Pick a group", value=""),
                rx.foreach(S.group_choices, lambda c: rx.el.option(c.label, value=c.value)),
                id="membership-group",
                value=S.group_id,
                on_change=S.set_group,
            ),
            align="center",
        ),
        rx.text(
            "After the dry run you review whom to invite, which members' profiles to update, "
            "and what to do with members who are not in the file.",
            size="2",
            color_scheme="gray",
        ),
        spacing="1",
        align="start",
    )


def _source() -> rx.Component:
    settings = get_settings()
    return rx.vstack(
        rx.el.fieldset(
            rx.el.legend("What to import"),
            rx.radio_group.root(
                rx.hstack(
                    rx.el.label(
                        rx.radio_group.item(value="profiles"), "Profiles", style={"display": "flex", "gap": "0.4em"}
                    ),
                    rx.el.label(
                        rx.radio_group.item(value="segments"), "Segments", style={"display": "flex", "gap": "0.4em"}
                    ),
                    rx.el.label(
                        rx.radio_group.item(value="membership"),
                        "Membership file for a group",
                        style={"display": "flex", "gap": "0.4em"},
                    ),
                    spacing="5",
                ),
                value=S.kind,
                on_change=S.set_kind,
                aria_label="What to import",
            ),
            style={"border": "none", "padding": 0},
        ),
        rx.cond(S.kind == "membership", _group_pick()),
        rx.text(
            f"Upload one or more spreadsheets ({', '.join(ALLOWED_SUFFIXES)}) of up to "
            f"{limits.size_text(settings.upload_max_bytes)} and {settings.upload_max_rows:,} rows "
            f"each, or paste up to {settings.paste_max_rows:,} rows. They are imported in the "
            "order given."
        ),
        upload_zone(S),
        _errors(S.chosen_errors),
        rx.el.label("Or paste rows (with the header row) from a spreadsheet", html_for="paste-rows"),
        rx.text_area(id="paste-rows", value=S.paste_text, on_change=S.set_paste_text, rows="4", width="100%"),
        rx.button("Use pasted rows", variant="soft", on_click=S.use_pasted_rows),
        _errors(S.file_errors),
        rx.cond(
            S.files.length() > 0,
            rx.vstack(
                rx.heading("Files to import", size="4", as_="h2"),
                rx.el.ol(rx.foreach(S.files, _file_row), aria_label="Files to import"),
            ),
        ),
        _step_error(),
        _busy(),
        rx.button("Next", on_click=S.source_next, disabled=S.busy != ""),
        spacing="3",
        width="100%",
        align="start",
    )


# ------------------------------------------------------------ sheet
def _sheet_pick(item: UploadedFile, index: rx.Var) -> rx.Component:
    return rx.cond(
        item.sheets.length() > 1,
        rx.hstack(
            rx.el.label(f"Sheet of {item.name}", html_for=f"sheet-{index}"),
            rx.el.select(
                rx.el.option("Pick a sheet", value=""),
                rx.foreach(item.sheets, lambda name: rx.el.option(name, value=name)),
                id=f"sheet-{index}",
                value=item.sheet,
                on_change=lambda value: S.pick_sheet(index, value),
            ),
            align="center",
        ),
    )


def _sheet() -> rx.Component:
    return rx.vstack(
        rx.text("These workbooks have several sheets: pick the one to import."),
        rx.foreach(S.files, _sheet_pick),
        _step_error(),
        _busy(),
        rx.hstack(
            rx.button("Back", variant="soft", on_click=S.go_to("source")),
            rx.button("Next", on_click=S.sheet_next, disabled=S.busy != ""),
        ),
        spacing="3",
        align="start",
    )


# ------------------------------------------------------------ map
def _target_option(choice: TargetChoice) -> rx.Component:
    return rx.el.option(choice.label, value=choice.value)


def _column_line(line: ColumnLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(line.header),
        rx.table.cell(rx.text(line.samples, size="2", color_scheme="gray")),
        rx.table.cell(
            rx.text(line.suggested, size="2"),
            rx.cond(line.confidence != "", rx.badge(line.confidence, margin_left="0.5em")),
        ),
        rx.table.cell(
            rx.el.select(
                rx.foreach(S.target_choices, _target_option),
                value=line.target,
                aria_label=f"Field for {line.header}",
                on_change=lambda value: S.set_target(line.header, value),
            )
        ),
        rx.table.cell(
            rx.cond(
                line.is_identity,
                rx.checkbox(
                    checked=line.is_identifier,
                    aria_label=f"Identify by {line.header}",
                    on_change=lambda checked: S.set_identifier(line.header, checked),
                ),
            )
        ),
    )


def _save_template() -> rx.Component:
    """Saves the columns, identifiers and value maps chosen so far for files with these headers."""
    return rx.hstack(
        rx.input(
            placeholder="Template name",
            value=S.template_name,
            on_change=S.set_template_name,
            aria_label="Template name",
        ),
        rx.button("Save as template", variant="soft", on_click=S.save_template),
        align="center",
    )


def _map() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.template_offer != "",
            rx.callout.root(
                rx.hstack(
                    rx.text(f"A saved template matches these columns: {S.template_offer}"),
                    rx.cond(
                        S.template_applied,
                        rx.badge("Applied", color_scheme="green"),
                        rx.button("Use template", size="1", on_click=S.apply_template),
                    ),
                    align="center",
                ),
                color_scheme="blue",
                width="100%",
            ),
        ),
        rx.text("Each column: what it holds. Tick the identifier columns that say who a row is."),
        rx.table.root(
            hidden_caption("Column mapping"),
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Column"),
                    rx.table.column_header_cell("Samples"),
                    rx.table.column_header_cell("Suggestion"),
                    rx.table.column_header_cell("Import as"),
                    rx.table.column_header_cell("Identifier"),
                )
            ),
            rx.table.body(rx.foreach(S.lines, _column_line)),
            width="100%",
        ),
        _save_template(),
        _step_error(),
        rx.hstack(
            rx.button("Back", variant="soft", on_click=S.go_to("source")), rx.button("Next", on_click=S.map_next)
        ),
        spacing="3",
        width="100%",
        align="start",
    )


# ------------------------------------------------------------ values
def _value_line(field: ChoiceField, value: ValueLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(value.raw),
        rx.table.cell(
            rx.el.select(
                rx.el.option("Not mapped", value=""),
                rx.foreach(field.options, lambda o: rx.el.option(o, value=o)),
                value=value.option,
                aria_label=f"{field.label} value for {value.raw}",
                on_change=lambda option: S.set_value(field.key, value.raw, option),
            )
        ),
        rx.table.cell(
            rx.cond(
                value.same,
                rx.hstack(
                    rx.icon("check", color="green", size=16, aria_hidden="true"),
                    rx.text("Same as the option", size="1", color_scheme="green"),
                    spacing="1",
                    align="center",
                ),
            )
        ),
    )


def _choice_field(field: ChoiceField) -> rx.Component:
    return rx.el.section(
        rx.hstack(
            rx.heading(f"{field.label} (column {field.header})", size="3", as_="h3"),
            rx.cond(
                field.reviewed,
                rx.hstack(
                    rx.icon("circle_check", color="green", size=18, aria_hidden="true"),
                    rx.text("Reviewed", size="2", color_scheme="green"),
                    spacing="1",
                ),
                rx.button("Mark reviewed", size="1", variant="soft", on_click=S.mark_reviewed(field.key)),
            ),
            align="center",
        ),
        rx.table.root(
            hidden_caption(f"Values of {field.label}"),
            rx.table.body(rx.foreach(field.value_lines, lambda v: _value_line(field, v))),
        ),
        rx.cond(field.unmapped != "", rx.text(f"Unmapped values: {field.unmapped}", size="2", color_scheme="amber")),
        aria_label=field.label,
        style={"width": "100%"},
    )


def _values() -> rx.Component:
    return rx.vstack(
        rx.text("Choice fields take only their options: map the file's values to them."),
        rx.button("Map values with matching words", on_click=S.map_matching_words),
        rx.foreach(S.choice_fields, _choice_field),
        rx.hstack(
            rx.button("Back", variant="soft", on_click=S.go_to("map")), rx.button("Next", on_click=S.go_to("options"))
        ),
        spacing="4",
        width="100%",
        align="start",
    )


# ------------------------------------------------------------ options
def _policy_line(line: ColumnLine) -> rx.Component:
    return rx.cond(
        (line.target != "__ignore__") & ~line.is_identity,
        rx.table.row(
            rx.table.row_header_cell(line.header),
            rx.table.cell(
                rx.el.select(
                    *[rx.el.option(label, value=value) for value, label in POLICIES],
                    value=line.policy,
                    aria_label=f"Merge policy for {line.header}",
                    on_change=lambda policy: S.set_policy(line.header, policy),
                )
            ),
        ),
    )


def _consent_line(choice: TargetChoice) -> rx.Component:
    return rx.hstack(
        rx.el.label(choice.label, html_for=f"consent-{choice.value}"),
        rx.el.select(
            rx.el.option("Leave as is", value=""),
            rx.el.option("Granted", value="granted"),
            rx.el.option("Denied", value="denied"),
            id=f"consent-{choice.value}",
            value=S.consent.get(choice.value, ""),
            on_change=lambda value: S.set_consent(choice.value, value),
        ),
        align="center",
    )


def _tag_line(choice: TargetChoice) -> rx.Component:
    return rx.el.label(
        rx.checkbox(
            checked=S.chosen_tags.contains(choice.value), on_change=lambda checked: S.toggle_tag(choice.value, checked)
        ),
        choice.label,
        style={"display": "flex", "gap": "0.4em", "alignItems": "center"},
    )


def _options() -> rx.Component:
    profile_options = rx.vstack(
        rx.heading("Merge policy per field", size="3", as_="h3"),
        rx.table.root(hidden_caption("Merge policies"), rx.table.body(rx.foreach(S.lines, _policy_line))),
        rx.heading("Consent for the whole file", size="3", as_="h3"),
        rx.foreach(S.consent_channels, _consent_line),
        rx.heading("Tags for every row", size="3", as_="h3"),
        rx.box(rx.foreach(S.tag_choices, _tag_line), max_height="12em", overflow_y="auto"),
        rx.heading("A tags column", size="3", as_="h3"),
        rx.radio_group.root(
            rx.hstack(
                rx.el.label(
                    rx.radio_group.item(value="append"),
                    "Append to the profile's tags",
                    style={"display": "flex", "gap": "0.4em"},
                ),
                rx.el.label(
                    rx.radio_group.item(value="replace"),
                    "Replace the profile's tags",
                    style={"display": "flex", "gap": "0.4em"},
                ),
                spacing="5",
            ),
            value=S.tags_mode,
            on_change=S.set_tags_mode,
            aria_label="Tags column",
        ),
        rx.heading("Rows that look like an existing profile", size="3", as_="h3"),
        rx.radio_group.root(
            rx.hstack(
                rx.el.label(
                    rx.radio_group.item(value="review"),
                    "Create them and send them to the duplicates review",
                    style={"display": "flex", "gap": "0.4em"},
                ),
                rx.el.label(
                    rx.radio_group.item(value="create"), "Create them anyway", style={"display": "flex", "gap": "0.4em"}
                ),
                spacing="5",
            ),
            value=S.possible_duplicates,
            on_change=S.set_possible_duplicates,
            aria_label="Rows that look like an existing profile",
        ),
        spacing="3",
        align="start",
        width="100%",
    )
    segment_options = rx.hstack(
        rx.el.label("The User ID column holds", html_for="segment-identifier"),
        rx.el.select(
            rx.foreach(S.identity_choices, _target_option),
            id="segment-identifier",
            value=S.segment_identifier,
            on_change=S.set_segment_identifier,
        ),
        align="center",
    )
    return rx.vstack(
        rx.cond(
            S.kind == "segments",
            segment_options,
            rx.vstack(profile_options, _save_template(), spacing="3", width="100%"),
        ),
        _step_error(),
        rx.hstack(
            rx.button(
                "Back", variant="soft", on_click=rx.cond(S.kind == "segments", S.go_to("source"), S.go_to("map"))
            ),
            rx.button("Preview", on_click=S.start_preview),
        ),
        spacing="4",
        width="100%",
        align="start",
    )


# ------------------------------------------------------------ preview
def _total(item: PreviewTotal) -> rx.Component:
    return rx.el.li(rx.text(rx.text.strong(item.file), ": ", item.text))


def _preview() -> rx.Component:
    return rx.vstack(
        _busy(),
        rx.cond(
            S.busy == "",
            rx.vstack(
                rx.heading("Dry run: nothing has been changed yet", size="4", as_="h2"),
                rx.el.ul(rx.foreach(S.preview_totals, _total), aria_label="Totals"),
                rx.cond((S.kind != "segments") & (S.preview_totals.length() > 0), ignored_columns(S)),
                _step_error(),
                outcome_select(S, "preview-outcome", error_file_button(S, S.preview_has_errors)),
                row_results_table(S, name="Preview rows", with_profile=False),
                rx.hstack(
                    rx.button("Back to mapping", variant="soft", on_click=S.back_to_mapping),
                    rx.button(
                        rx.cond(S.kind == "membership", "Confirm and review members", "Confirm import"),
                        on_click=S.confirm,
                        # until the dry run's results are in there is nothing to confirm
                        disabled=S.preview_totals.length() == 0,
                    ),
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
        ),
        width="100%",
        align="start",
    )


def content() -> rx.Component:
    return rx.vstack(
        _steps(),
        _step_counter(),
        rx.match(
            S.step,
            ("source", _source()),
            ("sheet", _sheet()),
            ("map", _map()),
            ("values", _values()),
            ("options", _options()),
            ("preview", _preview()),
            _source(),
        ),
        spacing="4",
        width="100%",
        max_width="1100px",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.IMPORT_NEW, title=TITLE)
