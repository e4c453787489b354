"""The field diff of a plan, column-wise: what each matched profile holds, what the file
brings, the final values under each field's merge policy and locks, and what gets written.

`diff_fields` (existing persons, merges filling empty fields from the merged profiles),
`merge_fills` (fields outside the file a merge moves to the survivor), `existing_writes`
(profile rows to write back, provenance pairs, changes as JSON text fragments) and
`new_profile_rows` (the rows of new profiles).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlmodel import Session

from ...models import SYSTEM_COLUMNS
from ..name_fold import folded_json_values
from .changes_json import Dtype, json_text
from .plan_fields import SYSTEM_DTYPES, FieldInfo, fetch_provenance


def _attribute_series(values: list[Any], dtype: Dtype) -> pl.Series:
    """Stored attribute values (JSON) as a typed series, unparseable values as null."""
    if dtype == pl.Float64 or dtype.is_numeric():
        out = [v if isinstance(v, int | float) and not isinstance(v, bool) else _to_float(v) for v in values]
        return pl.Series(out, dtype=pl.Float64).cast(dtype, strict=False)
    if dtype == pl.Boolean:
        return pl.Series([v if isinstance(v, bool) else None for v in values], dtype=pl.Boolean)
    if dtype == pl.Date:
        return (
            pl.Series([v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
            .str.slice(0, 10)
            .str.to_date("%Y-%m-%d", strict=False)
        )
    if isinstance(dtype, pl.Datetime):
        s = pl.Series([v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
        return s.str.to_datetime(time_unit="us", time_zone="UTC", strict=False).cast(dtype, strict=False)
    if isinstance(dtype, pl.List):
        return pl.Series([[str(x) for x in v] if isinstance(v, list) else None for v in values], dtype=pl.List(pl.Utf8))
    return pl.Series([None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values], dtype=pl.Utf8)


def _to_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _empty(expr: pl.Expr, dtype: Dtype) -> pl.Expr:
    if dtype == pl.Utf8:
        return expr.is_null() | (expr.str.strip_chars() == "")
    if isinstance(dtype, pl.List):
        return expr.is_null() | (expr.list.len() == 0)
    return expr.is_null()


# ---------------------------------------------------------------------- diff
def _current_frame(
    targets: pl.Series, current: pl.DataFrame, attributes: dict[int, dict], fields: list[FieldInfo]
) -> pl.DataFrame:
    """For each target id: every file field's stored value, typed like the file's column."""
    ids = targets.to_list()
    cols: dict[str, pl.Series] = {"target": pl.Series(ids, dtype=pl.Int64)}
    by_id = pl.DataFrame({"id": ids}, schema={"id": pl.Int64}).join(current, on="id", how="left", maintain_order="left")
    stored = [attributes.get(i) or {} for i in ids]
    for f in fields:
        if f.is_system:
            cols[f"cur:{f.key}"] = (
                by_id[f.key].cast(f.dtype, strict=False) if f.dtype != by_id[f.key].dtype else by_id[f.key]
            )
        else:
            key = f.key
            cols[f"cur:{key}"] = _attribute_series([a.get(key) for a in stored], f.dtype)
    return pl.DataFrame(cols)


def diff_fields(
    existing: pl.DataFrame,
    current: pl.DataFrame,
    attributes: dict[int, dict],
    fields: list[FieldInfo],
    provenance: pl.DataFrame,
) -> pl.DataFrame:
    """Per existing person: final value, changed flag and locked report of every file field.

    base = the stored value (for a merge, empty values filled from the merged profiles,
    unless locked); the file's value replaces it when the policy allows and the field
    is not locked; `chg:` says the final value differs from what the profile holds now.
    """
    if existing.is_empty():
        return pl.DataFrame(schema={"person": pl.Int64, "target": pl.Int64})
    cur = _current_frame(existing["target"], current, attributes, fields).unique("target")
    frame = existing.select("person", "target", "losers", *[f"in:{f.key}" for f in fields]).join(
        cur, on="target", how="left"
    )
    fills = _loser_fills(existing, current, attributes, fields)
    frame = frame.join(fills, on="person", how="left")
    locked = provenance.filter(pl.col("locked"))
    exprs = []
    for f in fields:
        inc, now_, fill = pl.col(f"in:{f.key}"), pl.col(f"cur:{f.key}"), pl.col(f"fill:{f.key}")
        lk = pl.col("target").is_in(locked.filter(pl.col("field_key") == f.key)["profile_id"].to_list())
        base = pl.when(lk | ~_empty(now_, f.dtype)).then(now_).otherwise(pl.coalesce(fill, now_))
        if f.policy == "overwrite":
            take = inc.is_not_null() & inc.ne_missing(base)
        elif f.policy == "fill_empty":
            take = inc.is_not_null() & _empty(base, f.dtype)
        else:
            take = pl.lit(False)
        final = pl.when(take & ~lk).then(inc).otherwise(base)
        exprs += [
            final.alias(f"fin:{f.key}"),
            (take & ~lk).alias(f"tk:{f.key}"),
            (lk & inc.is_not_null() & inc.ne_missing(now_)).alias(f"lkr:{f.key}"),
        ]
    frame = frame.with_columns(exprs)
    return frame.with_columns(
        [pl.col(f"fin:{f.key}").ne_missing(pl.col(f"cur:{f.key}")).alias(f"chg:{f.key}") for f in fields]
    )


def _loser_fills(
    existing: pl.DataFrame, current: pl.DataFrame, attributes: dict[int, dict], fields: list[FieldInfo]
) -> pl.DataFrame:
    """Per merged person: each field's first non-empty value among the merged profiles."""
    schema = {"person": pl.Int64, **{f"fill:{f.key}": f.dtype for f in fields}}
    losers = existing.select("person", "losers").explode("losers").drop_nulls("losers")
    if losers.is_empty():
        return pl.DataFrame(schema=schema)
    cur = _current_frame(losers["losers"], current, attributes, fields)
    values = pl.concat([losers, cur.drop("target")], how="horizontal")
    return (
        values.sort("losers")
        .group_by("person")
        .agg(
            [
                pl.col(f"cur:{f.key}").filter(~_empty(pl.col(f"cur:{f.key}"), f.dtype)).first().alias(f"fill:{f.key}")
                for f in fields
            ]
        )
    )


def merge_fills(
    session: Session,
    merges: list[tuple[int, list[int], int]],
    current: pl.DataFrame,
    attributes: dict[int, dict],
    fields: list[FieldInfo],
) -> tuple[dict[int, dict[str, tuple[Any, Any]]], pl.DataFrame]:
    """Values of fields outside the file that a merge moves to the survivor (survivor empty,
    not locked), and the provenance rows that travel with them."""
    extra: dict[int, dict[str, tuple[Any, Any]]] = {}
    prov_rows: list[dict] = []
    if not merges:
        return extra, pl.DataFrame()
    file_keys = {f.key for f in fields}
    all_ids = [i for s, losers, _ in merges for i in (s, *losers)]
    prov = fetch_provenance(session, all_ids, _all_field_keys(session, attributes, all_ids))
    prov_by = {(r["profile_id"], r["field_key"]): r for r in prov.iter_rows(named=True)}
    sys_by_id = {r["id"]: r for r in current.iter_rows(named=True)}
    for survivor, losers, person in merges:
        moved: dict[str, Any] = {}
        keys = [c for c in SYSTEM_COLUMNS if c not in file_keys]
        attr_keys = []
        for loser in losers:
            attr_keys += [k for k in attributes.get(loser, {}) if k not in file_keys and k not in attr_keys]
        for key in keys + attr_keys:
            is_sys = key in SYSTEM_COLUMNS
            mine = sys_by_id[survivor][key] if is_sys else attributes.get(survivor, {}).get(key)
            if mine not in (None, "", []) or (prov_by.get((survivor, key)) or {}).get("locked"):
                continue
            for loser in losers:
                theirs = sys_by_id[loser][key] if is_sys else attributes.get(loser, {}).get(key)
                if theirs not in (None, "", []):
                    moved[key] = (mine, theirs)
                    if (loser, key) in prov_by:
                        prov_rows.append({**prov_by[(loser, key)], "profile_id": survivor})
                    break
        extra[person] = moved
    return extra, pl.DataFrame(prov_rows) if prov_rows else pl.DataFrame()


def _all_field_keys(session: Session, attributes: dict[int, dict], ids: list[int]) -> list[str]:
    keys = set(SYSTEM_COLUMNS)
    for i in ids:
        keys.update(attributes.get(i, {}))
    return sorted(keys)


@dataclass
class ExistingWrites:
    updates: pl.DataFrame  # id, the file's system fields (final values), attributes (JSON patch)
    written: pl.DataFrame  # profile_id, field_key: values the file wrote (for provenance)
    fragments: pl.DataFrame  # person, fields_frag, locked_frag, prov_frag (JSON text), any_change


def existing_writes(
    diff: pl.DataFrame, fields: list[FieldInfo], provenance: pl.DataFrame, *, folded: bool = True
) -> ExistingWrites:
    """From the diff: profile rows to write back, provenance pairs, and the changes as JSON
    text fragments ({field: [before, after]}, @locked, @prov), all built column-wise.
    `folded`: the rows carry attributes_folded (an apply writes them; a dry run does not)."""
    system = [f for f in fields if f.is_system]
    custom = [f for f in fields if not f.is_system]
    if diff.is_empty() or "target" not in diff.columns or not fields:
        empty_frags = pl.DataFrame(
            schema={
                "person": pl.Int64,
                "fields_frag": pl.Utf8,
                "locked_frag": pl.Utf8,
                "moved_frag": pl.Utf8,
                "prov_frag": pl.Utf8,
                "any_change": pl.Boolean,
            }
        )
        return ExistingWrites(
            pl.DataFrame(schema={"id": pl.Int64, "attributes": pl.Utf8}),
            pl.DataFrame(schema={"profile_id": pl.Int64, "field_key": pl.Utf8}),
            empty_frags,
        )

    def pair(f: FieldInfo, a: str, b: str) -> pl.Expr:
        return (
            pl.lit(json.dumps(f.key) + ": [")
            + json_text(pl.col(f"{a}:{f.key}"), f.dtype)
            + pl.lit(", ")
            + json_text(pl.col(f"{b}:{f.key}"), f.dtype)
            + pl.lit("]")
        )

    def joined(pieces: list[pl.Expr]) -> pl.Expr:
        text = pl.concat_str(pieces, separator=", ", ignore_nulls=True) if pieces else pl.lit("")
        return pl.when(text == "").then(None).otherwise(text)

    frags = diff.select(
        "person",
        "target",
        fields_frag=joined([pl.when(pl.col(f"chg:{f.key}")).then(pair(f, "cur", "fin")) for f in fields]),
        locked_body=joined([pl.when(pl.col(f"lkr:{f.key}")).then(pair(f, "cur", "in")) for f in fields]),
        # values a merge brought from the merged profiles (the file left them empty)
        moved_body=joined(
            [pl.when(pl.col(f"chg:{f.key}") & ~pl.col(f"tk:{f.key}")).then(pl.lit(json.dumps(f.key))) for f in fields]
        ),
        any_change=pl.any_horizontal([pl.col(f"chg:{f.key}") for f in fields]),
        patch=pl.lit("{")
        + pl.concat_str(
            [
                pl.when(pl.col(f"chg:{f.key}")).then(
                    pl.lit(json.dumps(f.key) + ": ") + json_text(pl.col(f"fin:{f.key}"), f.dtype)
                )
                for f in custom
            ]
            or [pl.lit(None, dtype=pl.Utf8)],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}"),
    ).with_columns(
        locked_frag=pl.lit('"@locked": {') + pl.col("locked_body") + pl.lit("}"),
        moved_frag=pl.lit('"@merged_fields": [') + pl.col("moved_body") + pl.lit("]"),
    )

    updates = diff.select(
        pl.col("target").alias("id"),
        *[pl.col(f"fin:{f.key}").cast(SYSTEM_DTYPES[f.key], strict=False).alias(f.key) for f in system],
    ).with_columns(attributes=frags["patch"])
    # the patch's folded form, merged into attributes_folded as the patch into attributes
    patch_folded = folded_attributes_json(diff, custom, "fin", lambda f: pl.col(f"chg:{f.key}")) if folded else None
    if patch_folded is not None:
        updates = updates.with_columns(attributes_folded=patch_folded)

    def long(prefix: str) -> pl.DataFrame:
        return (
            diff.select("target", *[pl.col(f"{prefix}:{f.key}").alias(f.key) for f in fields])
            .unpivot(index="target", variable_name="field_key", value_name="flag")
            .filter(pl.col("flag"))
            .select(pl.col("target").alias("profile_id"), "field_key")
        )

    written = long("tk")
    # the provenance each changed field had before, so undo can put it back
    before = (
        long("chg")
        .join(provenance, on=["profile_id", "field_key"])
        .select(
            "profile_id",
            frag=json_text(pl.col("field_key"), pl.Utf8)
            + pl.lit(": ")
            + pl.struct(
                "source_type", "source_name", "import_job_id", "set_by", "set_at", "locked"
            ).struct.json_encode(),
        )
        .group_by("profile_id")
        .agg(pl.col("frag").str.join(", "))
        .select(pl.col("profile_id").alias("target"), prov_frag=pl.lit('"@prov": {') + pl.col("frag") + pl.lit("}"))
    )
    fragments = frags.join(before, on="target", how="left").select(
        "person", "fields_frag", "locked_frag", "moved_frag", "prov_frag", "any_change"
    )
    return ExistingWrites(updates, written, fragments)


def new_profile_rows(
    new: pl.DataFrame, fields: list[FieldInfo], file_name: str, now: datetime, *, folded: bool = True
) -> pl.DataFrame:
    """New profiles (keyed by person) with system columns and attributes JSON (and
    attributes_folded when `folded`: an apply writes them; a dry run does not).

    They get no provenance rows: a created profile's values came from its initial_source
    at created_at (see AttributeProvenance); rows are written only where a later source
    changes a value. That keeps a 50,000-row file from writing ~500,000 provenance rows."""
    system = [f for f in fields if f.is_system]
    custom = [f for f in fields if not f.is_system]
    attributes = (
        pl.lit("{")
        + pl.concat_str(
            [
                pl.when(pl.col(f"in:{f.key}").is_not_null()).then(
                    pl.lit(json.dumps(f.key) + ": ") + json_text(pl.col(f"in:{f.key}"), f.dtype)
                )
                for f in custom
            ]
            or [pl.lit(None, dtype=pl.Utf8)],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}")
    )
    frame = new.select(
        "person",
        *[pl.col(f"in:{f.key}").cast(SYSTEM_DTYPES[f.key], strict=False).alias(f.key) for f in system],
        attributes=attributes,
        status=pl.lit("active"),
        initial_source=pl.lit(file_name),
        created_at=pl.lit(now),
        updated_at=pl.lit(now),
    )
    if not folded:
        return frame
    attributes_folded = folded_attributes_json(new, custom, "in", lambda f: pl.col(f"in:{f.key}").is_not_null())
    return frame if attributes_folded is None else frame.with_columns(attributes_folded=attributes_folded)


def folded_attributes_json(
    frame: pl.DataFrame, custom: list[FieldInfo], prefix: str, present: Callable[[FieldInfo], pl.Expr]
) -> pl.Series | None:
    """attributes_folded of the JSON object that holds each custom field's `{prefix}:{key}`
    value where `present(field)`: JSON text equal to json.dumps(models.fold_attributes(that
    object)), built column-wise (its text values folded once per distinct value) instead of
    by the bulk writer parsing every row's object. None when a field's type is one whose
    JSON form is not known here: the bulk writer folds the object text then, as before."""
    pieces = []
    for f in custom:
        dtype = f.dtype
        if dtype.is_numeric() or dtype == pl.Boolean or isinstance(dtype, pl.List):
            continue  # numbers, booleans and lists are not text: fold_attributes leaves them out
        if dtype == pl.Utf8:
            text = frame[f"{prefix}:{f.key}"]
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            # JSON strings of ISO digits, '-', ':', 'T' and '+': no escapes to undo
            stored = pl.col(f"{prefix}:{f.key}")
            text = frame.select(
                pl.when(stored.is_not_null()).then(json_text(stored, dtype).str.strip_chars('"'))
            ).to_series()
        else:
            return None
        value = pl.lit(folded_json_values(text))
        pieces.append(pl.when(present(f) & value.is_not_null()).then(pl.lit(json.dumps(f.key) + ": ") + value))
    body = pl.concat_str(pieces, separator=", ", ignore_nulls=True) if pieces else pl.lit("")
    return frame.with_columns(_folded=pl.lit("{") + body + pl.lit("}"))["_folded"].alias("attributes_folded")
