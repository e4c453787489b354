"""Steps 3 and 4 of the wizard: identify and map the columns (suggestions, identifiers,
saved templates) and review the values of choice fields. `_mapping()` turns the page's
lines into the ImportMapping the dry run and the import use."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ....db import session_scope
from ....models import CHOICE_TYPES
from ....services import workspace_settings
from ....services.importing import IDENTITY_PREFIX, TAGS_TARGET, ImportMapping, membership
from ....services.importing import mapping as mapping_stage
from ....services.importing import values as values_stage
from ....services.permissions import Actor
from ....state.base import guarded
from ..ignored_columns_state import IGNORE, MEMBERSHIP_STATUS_NOTE, NEW_FIELD
from .base import WizardBase
from .choices import ChoiceField, ColumnLine, TargetChoice, ValueLine


@dataclasses.dataclass(frozen=True)
class Suggestions:
    """What the mapping step offers for a file's headers (`read_suggestions`)."""

    choices: list[TargetChoice]  # every target a column can take
    columns: list[mapping_stage.ColumnSuggestion]  # one per header, in header order
    template_offer: str  # the name of a saved template for these headers, or ""


def read_suggestions(actor: Actor, kind: str, headers: list[str]) -> Suggestions:
    """The targets and the suggested one per header, read in one transaction; touches no
    state (the background event that reads the files calls it with `in_thread`)."""
    with session_scope() as session:
        fields = workspace_settings.list_fields(session=session, actor=actor)
        kinds = workspace_settings.list_identity_kinds(session=session, actor=actor)
        suggestions = mapping_stage.suggest_mapping(headers, fields=fields, identity_kinds=kinds)
        template = mapping_stage.find_mapping_template(session=session, actor=actor, kind=kind, headers=headers)
        choices = [TargetChoice(IGNORE, "Ignore this column"), TargetChoice(NEW_FIELD, "New custom field")]
        choices += [TargetChoice(IDENTITY_PREFIX + k.key, f"Identifier: {k.label}") for k in kinds]
        choices += [TargetChoice(f.key, f.label) for f in fields]
    choices.append(TargetChoice(TAGS_TARGET, "Tags (a|b)"))
    return Suggestions(choices, suggestions, template.name if template is not None else "")


class MappingStep(WizardBase, mixin=True):
    def _show_suggestions(self, suggested: Suggestions) -> None:
        """One line per header with its suggested target (the first file's samples)."""
        self.template_offer = suggested.template_offer
        self.template_applied = False
        self.target_choices = list(suggested.choices)
        labels = {c.value: c.label for c in suggested.choices}
        lines = []
        for s in suggested.columns:
            target = s.target or IGNORE
            lines.append(
                ColumnLine(
                    header=s.column,
                    samples=", ".join(str(v) for v in self._summary["samples"].get(s.column, [])),
                    target=target,
                    suggested=labels.get(s.target, "No match") if s.target else "No match",
                    confidence=f"{round(s.confidence * 100)}%" if s.target else "",
                    is_identity=target.startswith(IDENTITY_PREFIX),
                    is_identifier=target.startswith(IDENTITY_PREFIX),
                    policy="",
                )
            )
        self.lines = lines

    def _ignore_status_column(self) -> None:
        """A member file's Status column says who is a member: it is read by the review,
        never imported as a profile field."""
        header = membership.status_header(self.headers)
        for line in self.lines:
            if line.header == header:
                line.target, line.is_identity, line.is_identifier = IGNORE, False, False
                line.suggested, line.confidence = MEMBERSHIP_STATUS_NOTE, ""
        self.lines = list(self.lines)

    # ------------------------------------------------------------ step 3: map
    @rx.event
    @guarded
    def set_target(self, header: str, target: str) -> None:
        self._actor()
        valid = {c.value for c in self.target_choices}
        if target not in valid:
            return
        for line in self.lines:
            if line.header == target:
                continue
            if line.header == header:
                line.target = target
                line.is_identity = target.startswith(IDENTITY_PREFIX)
                line.is_identifier = line.is_identity
        self.lines = list(self.lines)

    @rx.event
    @guarded
    def set_identifier(self, header: str, checked: bool) -> None:
        self._actor()
        for line in self.lines:
            if line.header == header and line.is_identity:
                line.is_identifier = bool(checked)
        self.lines = list(self.lines)

    @rx.event
    @guarded
    def set_template_name(self, name: str) -> None:
        self.template_name = name

    def _mapping(self) -> ImportMapping:
        columns: dict[str, str | None] = {}
        new_fields: dict[str, dict[str, Any]] = {}
        taken = {c.value for c in self.target_choices}
        for line in self.lines:
            if line.target == NEW_FIELD:
                columns[line.header] = None
                spec = mapping_stage.propose_new_field(
                    line.header, self._summary.get("distinct", {}).get(line.header, []), taken
                )
                taken.add(spec["key"])
                new_fields[line.header] = spec
            else:
                columns[line.header] = None if line.target == IGNORE else line.target
        identifiers = [
            line.target[len(IDENTITY_PREFIX) :] for line in self.lines if line.is_identity and line.is_identifier
        ]
        values = {f.key: {v.raw: v.option for v in f.value_lines if v.option} for f in self.choice_fields}
        return ImportMapping(
            columns=columns,
            values={k: v for k, v in values.items() if v},
            identifiers=identifiers,
            new_fields=new_fields,
        )

    @rx.event
    @guarded
    def save_template(self) -> Any:
        actor = self._actor()
        name = self.template_name.strip()
        if not name:
            return rx.toast.error("Give the template a name")
        with session_scope() as session:
            mapping_stage.save_mapping_template(
                session=session, actor=actor, name=name, kind=self.kind, headers=self.headers, mapping=self._mapping()
            )
        self.template_offer = name
        return rx.toast.success(f"Template “{name}” saved")

    @rx.event
    @guarded
    def apply_template(self) -> Any:
        actor = self._actor()
        with session_scope() as session:
            template = mapping_stage.find_mapping_template(
                session=session, actor=actor, kind=self.kind, headers=self.headers
            )
            if template is None:
                return rx.toast.error("No template was saved for these columns")
            saved = mapping_stage.mapping_from_template(template, self.headers)
        identifiers = set(saved.identifiers)
        for line in self.lines:
            target = saved.columns.get(line.header)
            if line.header in saved.new_fields:
                line.target = NEW_FIELD
            else:
                line.target = target or IGNORE
            line.is_identity = line.target.startswith(IDENTITY_PREFIX)
            line.is_identifier = line.is_identity and (
                not identifiers or line.target[len(IDENTITY_PREFIX) :] in identifiers
            )
        self.lines = list(self.lines)
        self._saved_values = saved.values
        self.template_applied = True
        return rx.toast.success(f"Template “{template.name}” applied")

    @rx.event
    @guarded
    def map_next(self) -> Any:
        actor = self._actor()
        self.step_error = ""
        mapping = self._mapping()
        if not any(t for t in mapping.columns.values()) and not mapping.new_fields:
            self.step_error = "Map at least one column (every column is ignored)"
            return None
        if not mapping.identifiers:
            self.step_error = "Choose at least one identifier column (e-mail, phone or user ID)"
            return None
        with session_scope() as session:
            fields = {f.key: f for f in workspace_settings.list_fields(session=session, actor=actor)}
        saved_values = dict(self._saved_values or {})
        previous = {f.key: {v.raw: v.option for v in f.value_lines} for f in self.choice_fields}
        choice_fields = []
        for line in self.lines:
            definition = fields.get(line.target)
            if definition is None or definition.type not in CHOICE_TYPES:
                continue
            raws = self._summary.get("distinct", {}).get(line.header, [])
            known = previous.get(definition.key) or saved_values.get(definition.key) or {}
            same = values_stage.same_values(raws, list(definition.options))
            values = [
                ValueLine(raw=r, option=known.get(r) or same.get(r, ""), same=r not in known and r in same)
                for r in raws
            ]
            choice_fields.append(
                ChoiceField(
                    key=definition.key,
                    label=definition.label,
                    header=line.header,
                    options=list(definition.options),
                    value_lines=values,
                    unmapped=", ".join(v.raw for v in values if not v.option and v.raw not in definition.options),
                    reviewed=bool(known),
                )
            )
        self.choice_fields = choice_fields
        self.step = "values" if choice_fields else "options"
        return None

    # ------------------------------------------------------------ step 4: values
    def _refresh_unmapped(self) -> None:
        for f in self.choice_fields:
            f.unmapped = ", ".join(v.raw for v in f.value_lines if not v.option and v.raw not in f.options)
        self.choice_fields = list(self.choice_fields)

    @rx.event
    @guarded
    def map_matching_words(self) -> None:
        self._actor()
        for f in self.choice_fields:
            matched = values_stage.match_values([v.raw for v in f.value_lines], f.options)
            for v in f.value_lines:
                if not v.option and v.raw in matched:
                    v.option = matched[v.raw]
            f.reviewed = True
        self._refresh_unmapped()

    @rx.event
    @guarded
    def set_value(self, key: str, raw: str, option: str) -> None:
        self._actor()
        for f in self.choice_fields:
            if f.key == key and (option == "" or option in f.options):
                for v in f.value_lines:
                    if v.raw == raw:
                        v.same = v.same and v.option == option
                        v.option = option
                f.reviewed = True
        self._refresh_unmapped()

    @rx.event
    @guarded
    def mark_reviewed(self, key: str) -> None:
        self._actor()
        for f in self.choice_fields:
            if f.key == key:
                f.reviewed = True
        self.choice_fields = list(self.choice_fields)
