"""SheetData + ImportMapping -> the validated frame (columns: see the package docstring).

Whole columns at once with polars expressions; the only per-value Python work is the
phone library, run once per DISTINCT value that the vectorized fast path cannot settle,
and the value map of choice fields, built once per distinct value.

Rules:
- Every mapped field column is converted by its field type's parser (field_values.py, the
  same one forms and the inline edit use; identities by normalize.py). Text that is
  present but cannot be read becomes null plus an error naming the column as it is written
  in the file and the value, e.g. {"column": "E-mail", "message": "'abc@' is not a valid
  e-mail address"}.
- Any error makes the row invalid (VALID_COL false): nothing of it is imported, so a
  person is never half-updated.
- A row needs at least one usable identifier: a valid value in one of the identifier
  columns (ImportMapping.identifiers, or every mapped identity column when empty).
- "Required on create" is not checked here: it depends on whether the row creates a
  profile, which only the resolve/apply stages know.
- Choice values go through the user's value map first (raw -> option; an empty option
  means "ignore this value"), then "matching words" (values.py) for values the map does
  not cover; what is still unmatched is an error listing the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import polars as pl

from ...models import FieldDefinition
from . import ERRORS_COL, IDENTITY_PREFIX, ROW_COL, TAGS_TARGET, VALID_COL, ImportMapping
from .field_values import FieldInput, parse_field
from .mapping import MappingInvalid, effective_targets, identity_kind_of, infer_identifiers
from .normalize import (
    email_expr,
    invalid_message_expr,
    phone_expr,
    text_expr,
)

TAGS_SEPARATOR = "|"
TAG_NAME_MAX = 128  # Tag.name
IDENTITY_VALUE_MAX = 255  # Identity.value
ERROR_DTYPE = pl.Struct({"column": pl.Utf8, "message": pl.Utf8})
INDEX_COL = "__index__"


class SheetLike(Protocol):
    file_name: str
    headers: list[str]
    frame: pl.DataFrame


class _Check(NamedTuple):
    """One rule over the typed frame: rows where `bad` holds get `message` for `header`."""

    header: str
    bad: pl.Expr
    message: pl.Expr | str


def _error(header: str, bad: pl.Expr, message: pl.Expr | str) -> _Check:
    return _Check(header, bad, message)


def _collect_errors(typed: pl.DataFrame, checks: list[_Check]) -> pl.DataFrame:
    """ERRORS_COL for every row of `typed` (which carries INDEX_COL).

    Errors are gathered in long form (only the failing rows of each check) and grouped per
    row: building a struct per row and check, then dropping nulls, is ~30x slower.
    """
    parts = [
        typed.lazy()
        .filter(check.bad.fill_null(False))
        .select(
            INDEX_COL,
            pl.lit(order, dtype=pl.Int32).alias("__check__"),
            pl.lit(check.header).alias("column"),
            (pl.lit(check.message) if isinstance(check.message, str) else check.message).alias("message"),
        )
        for order, check in enumerate(checks)
    ]
    grouped = (
        pl.concat(parts)
        .sort(INDEX_COL, "__check__")
        .group_by(INDEX_COL, maintain_order=True)
        .agg(pl.struct("column", "message").alias(ERRORS_COL))
        .collect()
    )
    joined = typed.join(grouped, on=INDEX_COL, how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(pl.col(ERRORS_COL), pl.lit([], dtype=pl.List(ERROR_DTYPE))))


def _quoted_list(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _field_definitions(mapping: ImportMapping, fields: Mapping[str, FieldDefinition]) -> dict[str, FieldDefinition]:
    """Known fields plus the custom fields this import will create (a dry run creates none)."""
    definitions = dict(fields)
    for header, spec in mapping.new_fields.items():
        key = spec.get("key")
        if key and key not in definitions:
            definitions[key] = FieldDefinition(
                key=key,
                label=spec.get("label") or header,
                type=spec.get("type") or "text",
                options=list(spec.get("options") or []),
            )
    return definitions


def check_mapping(
    data: SheetLike, mapping: ImportMapping, *, fields: Mapping[str, FieldDefinition]
) -> tuple[dict[str, str], list[str]]:
    """header -> target and the identifier kinds, or MappingInvalid saying what to change."""
    targets = effective_targets(mapping)
    definitions = _field_definitions(mapping, fields)
    where = f" in {data.file_name}" if data.file_name else ""
    missing = [h for h in targets if h not in data.frame.columns]
    if missing:
        raise MappingInvalid(f"Column {_quoted_list([repr(h) for h in missing])} is not{where}")
    seen: dict[str, str] = {}
    for header, target in targets.items():
        if target in seen:
            raise MappingInvalid(
                f"Columns '{seen[target]}' and '{header}' are both mapped to {_target_label(target, definitions)}: "
                "map one of them to something else or ignore it"
            )
        seen[target] = header
        if not (identity_kind_of(target) or target == TAGS_TARGET or target in definitions):
            raise MappingInvalid(f"Column '{header}' is mapped to '{target}', which is not a field")
    mapped_kinds = [k for t in targets.values() if (k := identity_kind_of(t))]
    if not mapped_kinds:
        raise MappingInvalid(
            "Map at least one column to an identifier (User ID, Email, Phone or another ID kind), "
            "so each row can be matched to a person"
        )
    unmapped = [kind for kind in mapping.identifiers if kind not in mapped_kinds]
    if unmapped:
        raise MappingInvalid(f"No column is mapped to the identifier {_quoted_list(unmapped)}")
    return targets, infer_identifiers(mapping)


def _target_label(target: str, definitions: Mapping[str, FieldDefinition]) -> str:
    kind = identity_kind_of(target)
    if kind:
        return {"email": "Email", "phone": "Phone", "user_id": "User ID"}.get(kind, kind)
    if target == TAGS_TARGET:
        return "Tags"
    definition = definitions.get(target)
    return definition.label if definition else target


def validate_rows(
    data: SheetLike,
    mapping: ImportMapping,
    *,
    fields: Mapping[str, FieldDefinition],
    default_region: str,
) -> pl.DataFrame:
    """The validated frame: typed target columns, ERRORS_COL and VALID_COL per row."""
    targets, identifiers = check_mapping(data, mapping, fields=fields)
    definitions = _field_definitions(mapping, fields)
    raw_names = {header: f"__raw{i}__" for i, header in enumerate(targets)}
    raw = data.frame.select(
        pl.col(ROW_COL).cast(pl.Int64),
        *[text_expr(pl.col(h).cast(pl.Utf8)).alias(raw_names[h]) for h in targets],
    )

    values: list[pl.Expr] = []
    errors: list[_Check] = []
    for header, target in targets.items():
        source = pl.col(raw_names[header])
        present = source.is_not_null()
        kind = identity_kind_of(target)
        if kind:
            if kind == "email":
                value = email_expr(source)
                message = invalid_message_expr("email", source, region=default_region)
            elif kind == "phone":
                value = phone_expr(source, default_region)
                message = invalid_message_expr("phone", source, region=default_region)
            else:
                value = pl.when(source.str.len_chars() <= IDENTITY_VALUE_MAX).then(source)
                message = pl.lit(f"The value is longer than {IDENTITY_VALUE_MAX} characters")
            values.append(value.alias(target))
            errors.append(_error(header, present & pl.col(target).is_null(), message))
        elif target == TAGS_TARGET:
            items = (
                source.str.split(TAGS_SEPARATOR)
                .list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_chars() > 0))
                .list.unique(maintain_order=True)
            )
            values.append(pl.when(items.list.len() > 0).then(items).alias(target))
            too_long = pl.col(target).list.eval(pl.element().str.len_chars().max()).list.first() > TAG_NAME_MAX
            errors.append(_error(header, too_long.fill_null(False), f"A tag is longer than {TAG_NAME_MAX} characters"))
        else:
            definition = definitions[target]
            field_input = FieldInput(
                definition,
                raw.get_column(raw_names[header]),
                target,
                default_region,
                mapping.values.get(definition.key, {}),
            )
            parsed = parse_field(field_input)  # the same parser as a form's or inline edit's value
            values.append(parsed.value.alias(target))
            errors += [_error(header, bad, message) for bad, message in parsed.checks]

    id_headers = [h for h, t in targets.items() if identity_kind_of(t) in identifiers]
    has_identifier = pl.any_horizontal([pl.col(IDENTITY_PREFIX + k).is_not_null() for k in identifiers])
    errors.append(
        _error(
            ", ".join(id_headers),
            ~has_identifier,
            "No identifier: fill in at least one of " + ", ".join(f"'{h}'" for h in id_headers),
        )
    )

    typed = raw.with_columns(values).with_row_index(INDEX_COL)
    result = _collect_errors(typed, errors).with_columns((pl.col(ERRORS_COL).list.len() == 0).alias(VALID_COL))
    return result.select(ROW_COL, *targets.values(), ERRORS_COL, VALID_COL)


def error_rows(validated: pl.DataFrame) -> pl.DataFrame:
    """The invalid rows' numbers and errors (for reports and the CLI's "errors" list)."""
    return validated.filter(~pl.col(VALID_COL)).select(ROW_COL, ERRORS_COL).explode(ERRORS_COL).unnest(ERRORS_COL)


def summary(validated: pl.DataFrame) -> dict[str, Any]:
    valid = int(validated.get_column(VALID_COL).sum())
    return {"rows": validated.height, "valid": valid, "invalid": validated.height - valid}
