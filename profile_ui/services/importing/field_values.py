"""One value parser per field type, used by the import (whole columns) and by forms and the
inline edit (one value), so a value one accepts the other accepts, with the same message.

`FIELD_PARSERS` maps each field type to a function that, given a column of trimmed text
(`FieldInput`), returns the typed value as a polars expression and the checks that say
what is wrong with a value (`FieldParse`). `importing/validate.py` evaluates them over a
whole file; `parse_field_value` evaluates the very same expressions over a one-row frame
and raises InvalidValue with the first failing check's message.

Rules beyond normalize.py's readers (e-mail, phone, number, boolean, date, datetime):
- text: trimmed (a full name's inner runs of spaces collapsed); at most the column's length
  for a system field, CUSTOM_TEXT_MAX characters for a custom one.
- single_choice / multiple_choice: the import's value map first (raw -> option; an empty
  option ignores the value), then "matching words" (values.py); what is still unmatched
  is an error listing the choices. Multiple choices are separated by | or ;.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa

from ...models import FieldDefinition, FieldType, Profile
from .normalize import FIELD_DTYPES, InvalidValue, convert_expr, invalid_message_expr, name_expr, shorten, text_expr
from .values import match_value

MULTI_SEPARATORS = r"[|;]"
CUSTOM_TEXT_MAX = 1000  # characters of a custom text value (system fields: their column's length)


def _system_text_limits() -> dict[str, int]:
    limits = {}
    for column in sa.inspect(Profile).columns:
        length = getattr(column.type, "length", None)
        if length:
            limits[column.name] = length
    return limits


SYSTEM_TEXT_LIMITS = _system_text_limits()


@dataclass(frozen=True)
class FieldInput:
    """A column of text for one field: `texts` trimmed, null when empty (its name is the
    column the expressions read), and `target` the column the typed value is written to
    (the checks read the value from there, so it is computed once)."""

    definition: FieldDefinition
    texts: pl.Series
    target: str
    region: str
    value_map: Mapping[str, str] = field(default_factory=dict)

    @property
    def source(self) -> pl.Expr:
        return pl.col(self.texts.name)

    @property
    def value(self) -> pl.Expr:
        return pl.col(self.target)


@dataclass(frozen=True)
class FieldParse:
    """The typed value of a column (null: empty, unreadable or ignored on purpose) and the
    checks on it, in order: (the rows it fails, the message for them)."""

    value: pl.Expr
    checks: list[tuple[pl.Expr, pl.Expr | str]]


def _converted(field_input: FieldInput) -> FieldParse:
    """Types normalize.py reads: the value, or "cannot be read" when text gave no value."""
    kind = field_input.definition.type
    source = field_input.source
    return FieldParse(
        convert_expr(kind, source, region=field_input.region),
        [
            (
                source.is_not_null() & field_input.value.is_null(),
                invalid_message_expr(kind, source, region=field_input.region),
            )
        ],
    )


def _text(field_input: FieldInput) -> FieldParse:
    source = field_input.source
    value = name_expr(source) if field_input.definition.key == "full_name" else text_expr(source)
    return FieldParse(value, [])


def _texts(values: list[str] | list[str | None]) -> pl.Series:
    return pl.Series(values, dtype=pl.Utf8)


def _choice_lookup(
    distinct: list[str], definition: FieldDefinition, value_map: Mapping[str, str]
) -> tuple[dict[str, str | None], list[str]]:
    """raw -> option (None = ignored on purpose) for every distinct raw value, and the raws
    that match nothing (errors)."""
    options = list(definition.options or [])
    by_raw = {raw.strip(): option for raw, option in value_map.items()}
    resolved: dict[str, str | None] = {}
    unmatched: list[str] = []
    for raw in distinct:
        if raw in by_raw:
            mapped = by_raw[raw]
            if not mapped:  # an empty option: ignored on purpose
                resolved[raw] = None
                continue
            if mapped in options:
                resolved[raw] = mapped
                continue
        matched = match_value(raw, options)
        if matched is None:
            unmatched.append(raw)
        else:
            resolved[raw] = matched
    return resolved, unmatched


def _replace_values(expr: pl.Expr, resolved: dict[str, str | None]) -> pl.Expr:
    return expr.replace_strict(
        _texts(list(resolved)), _texts(list(resolved.values())), default=None, return_dtype=pl.Utf8
    )


def _choice_message(definition: FieldDefinition, bad: pl.Expr) -> pl.Expr:
    options = ", ".join(definition.options or []) or "(this field has no choices yet)"
    return pl.concat_str(
        [
            pl.lit("'"),
            bad,
            pl.lit(f"' is not one of the choices for {definition.label}: {shorten(options, 200)}"),
        ]
    )


def _single_choice(field_input: FieldInput) -> FieldParse:
    source, definition = field_input.source, field_input.definition
    distinct = field_input.texts.drop_nulls().unique().to_list()
    resolved, unmatched = _choice_lookup(distinct, definition, field_input.value_map)
    return FieldParse(
        _replace_values(source, resolved),
        [(source.is_in(_texts(unmatched)), _choice_message(definition, source))],
    )


def _multiple_choice(field_input: FieldInput) -> FieldParse:
    definition = field_input.definition
    items = field_input.source.str.replace_all(MULTI_SEPARATORS, "\x1f").str.split("\x1f")
    items = items.list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_chars() > 0))
    distinct = field_input.texts.to_frame().select(items.alias("i")).get_column("i").explode().drop_nulls()
    resolved, unmatched = _choice_lookup(distinct.unique().to_list(), definition, field_input.value_map)
    mapped = items.list.eval(_replace_values(pl.element(), resolved)).list.drop_nulls().list.unique(maintain_order=True)
    bad = items.list.eval(pl.element().filter(pl.element().is_in(_texts(unmatched))))
    return FieldParse(
        pl.when(mapped.list.len() > 0).then(mapped),
        [(bad.list.len() > 0, _choice_message(definition, bad.list.join("', '")))],
    )


FieldParser = Callable[[FieldInput], FieldParse]

# one parser per field type: the import and the inline edit both go through this table
FIELD_PARSERS: dict[str, FieldParser] = {
    FieldType.TEXT: _text,
    FieldType.EMAIL: _converted,
    FieldType.PHONE: _converted,
    FieldType.NUMBER: _converted,
    FieldType.BOOLEAN: _converted,
    FieldType.DATE: _converted,
    FieldType.DATETIME: _converted,
    FieldType.SINGLE_CHOICE: _single_choice,
    FieldType.MULTIPLE_CHOICE: _multiple_choice,
}


def text_limit(definition: FieldDefinition) -> int | None:
    """The most characters a text value of the field holds (None: not a text value)."""
    if FIELD_DTYPES.get(definition.type) != pl.Utf8():
        return None
    return SYSTEM_TEXT_LIMITS.get(definition.key) if definition.is_system else CUSTOM_TEXT_MAX


def parse_field(field_input: FieldInput) -> FieldParse:
    """The field type's parser (unknown types read as text), plus the length limit of text
    values (e-mail, phone and choices included)."""
    parsed = FIELD_PARSERS.get(field_input.definition.type, _text)(field_input)
    limit = text_limit(field_input.definition)
    if not limit:
        return parsed
    label = field_input.definition.label
    too_long = field_input.value.str.len_chars() > limit
    return FieldParse(
        parsed.value,
        [*parsed.checks, (too_long, f"The value is longer than {limit} characters (the most {label} can hold)")],
    )


def parse_field_value(
    definition: FieldDefinition, raw: str | None, *, region: str, value_map: Mapping[str, str] | None = None
) -> Any:
    """The typed value of one value a person typed, or None for "empty": the import's
    parser run over a one-row frame. Raises InvalidValue with the import's message.

    Types: text/email/phone/single_choice -> str; number -> float; boolean -> bool;
    date -> date; datetime -> aware datetime (UTC); multiple_choice -> list[str].
    """
    texts = pl.Series("text", [raw], dtype=pl.Utf8).str.strip_chars()
    texts = texts.set(texts.str.len_chars() == 0, None)
    if texts.null_count():
        return None
    field_input = FieldInput(definition, texts, "value", region, value_map or {})
    parsed = parse_field(field_input)
    frame = texts.to_frame().with_columns(parsed.value.alias("value"))
    messages = (
        frame.select(
            *(
                pl.when(bad.fill_null(False))
                .then(pl.lit(message) if isinstance(message, str) else message)
                .alias(f"c{i}")
                for i, (bad, message) in enumerate(parsed.checks)
            )
        ).row(0)
        if parsed.checks
        else ()
    )
    problem = next((m for m in messages if m is not None), None)
    if problem is not None:
        raise InvalidValue(problem)
    return frame.get_column("value").to_list()[0]
