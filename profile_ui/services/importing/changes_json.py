"""Field values and row changes as JSON text, the way import row results store them.

`json_value` is a value as stored in JSON (attributes, changes; the inline edit uses it
too); `json_text` is the same text as a polars expression, so a plan builds every row's
changes column-wise; `json_fragment` is one bookkeeping key of the changes per person
(`"@tags_added": [...]`).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any, TypeAlias

import polars as pl
from polars.datatypes import DataTypeClass

# a polars data type as code writes it (pl.Utf8, a class) or a frame's schema gives it (an instance)
Dtype: TypeAlias = "pl.DataType | DataTypeClass"


# ---------------------------------------------------------------------- values
def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def json_value(value: Any) -> Any:
    """A field value as stored in JSON (attributes, changes): ISO dates, whole numbers as int."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def json_fragment(frame: pl.DataFrame, key: str, items: list[tuple[str, Dtype]], by: str | None = None) -> pl.DataFrame:
    """Per person, `"key": [[a, b], ...]` (or `"key": {by: [a, b], ...}`) as JSON text."""
    schema = {"person": pl.Int64, "frag": pl.Utf8, "touches": pl.Boolean}
    if frame.is_empty() or "person" not in frame.columns:
        return pl.DataFrame(schema=schema)
    item = (
        pl.lit("[") + pl.concat_str([json_text(pl.col(c).cast(t), t) for c, t in items], separator=", ") + pl.lit("]")
    )
    if by is not None:
        item = json_text(pl.col(by), pl.Utf8) + pl.lit(": ") + item
    opening, closing = ("{", "}") if by is not None else ("[", "]")
    return (
        frame.group_by("person")
        .agg(item.str.join(", ").alias("frag"))
        .select(
            "person",
            frag=pl.lit(f"{json.dumps(key)}: {opening}") + pl.col("frag") + pl.lit(closing),
            touches=pl.lit(True),
        )
    )


def json_text(expr: pl.Expr, dtype: Dtype) -> pl.Expr:
    """A value as JSON text ("null" for null): the same text json.dumps(json_value(v)) gives."""
    if dtype.is_float():
        finite = expr.is_finite()
        whole = finite & (expr == expr.floor()) & (expr.abs() < 2.0**53)
        return (
            pl.when(whole)
            .then(expr.cast(pl.Int64).cast(pl.Utf8))
            .when(finite)
            .then(expr.cast(pl.Utf8))
            .otherwise(pl.lit("null"))
        )
    if dtype.is_integer():
        return expr.cast(pl.Utf8).fill_null("null")
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false")).otherwise(pl.lit("null"))
    # strings, lists, dates and datetimes: polars' JSON encoder (ISO dates, escaped strings)
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
