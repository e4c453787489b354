"""Import floor: a profile file into existing profiles, the plainest fast way.

    .venv/bin/python benchmarks/floors/import_floor.py FILE (SQLITE_FILE | POSTGRES_URL)

Reads the .xlsx (polars + fastexcel) or .csv (polars), normalizes the identities (e-mail
lower case and shaped like one, Vietnamese phones to +84) and the values by the field's
type (choices as defined, yes / no, numbers), drops the rows with no identity, and
in ONE transaction: stages the rows (sqlite3 executemany / psycopg COPY), matches each row
to an existing profile by any identity kind it carries (user_id, email, phone; the
`identities` table keyed by (kind, value)), updates the matched profiles (system fields
and the custom attributes merged into `attributes`), inserts the new ones and adds the
identities not known yet. No dry run, row results, provenance, audit or undo: those are
what the product's ratio pays for. Prints one JSON line of counts and seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import fastexcel  # noqa: F401  (polars' xlsx reader: imported before the clock starts)
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import is_postgres, now_text, transaction, write_rows

IDENTITY_KINDS = ("user_id", "email", "phone")  # matched in this order
SYSTEM_FIELDS = ("full_name", "gender", "birthday", "city", "member_level", "registered_at")
STAGE_COLUMNS = ("row", *IDENTITY_KINDS, *SYSTEM_FIELDS, "attributes")
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ALIASES = {"registration_date": "registered_at", "name": "full_name", "level": "member_level"}
# the spellings a file uses for a choice or a yes / no, beyond the choice itself in any case
CHOICE_ALIASES = {"nam": "Male", "m": "Male", "nữ": "Female", "nu": "Female", "f": "Female"}
YES_NO = {"yes": True, "true": True, "1": True, "có": True, "no": False, "false": False, "0": False, "không": False}


def read_file(path: Path) -> Any:
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pl.read_excel(path, engine="calamine")
    return pl.read_csv(path, infer_schema=False)


def field_types(target: str) -> dict[str, tuple[str, list[str]]]:
    """Each field's type and choices, from `field_definitions`."""
    with transaction(target) as cur:
        cur.execute(f"SELECT key, type, options{'::text' if is_postgres(target) else ''} FROM field_definitions")
        return {key: (type_, json.loads(options or "[]")) for key, type_, options in cur.fetchall()}


def typed(column: str, type_: str, options: list[str]) -> Any:
    """A custom or system field's value as the product stores it: choices spelled as
    defined, yes / no as booleans, numbers as numbers (text and dates stay text)."""
    value = pl.col(column)
    if type_ in ("single_choice", "multi_choice"):
        spelled = {**{k: v for k, v in CHOICE_ALIASES.items() if v in options}, **{o.lower(): o for o in options}}
        return value.str.to_lowercase().replace_strict(spelled, default=value).alias(column)
    if type_ == "boolean":
        return value.str.to_lowercase().replace_strict(YES_NO, default=None, return_dtype=pl.Boolean).alias(column)
    if type_ == "number":
        return value.cast(pl.Float64, strict=False).alias(column)
    return value


def prepare(raw: Any, fields: dict[str, tuple[str, list[str]]] | None = None) -> tuple[Any, int]:
    """The stage frame (STAGE_COLUMNS, all text but the row number) and the invalid rows' count;
    `fields` (key -> type, choices) types the values, as `field_types` reads them."""
    fields = fields or {}
    frame = raw.rename({c: ALIASES.get(k, k) for c in raw.columns for k in [c.strip().lower().replace(" ", "_")]})
    frame = frame.with_row_index("row")
    as_text = []
    for column, dtype in frame.schema.items():
        if column == "row":
            continue
        expr = pl.col(column)
        if dtype.is_temporal():
            expr = expr.cast(pl.Date).dt.strftime("%Y-%m-%d")
        as_text.append(expr.cast(pl.String).str.strip_chars().replace("", None).alias(column))
    frame = frame.with_columns(as_text)
    for kind in IDENTITY_KINDS:
        if kind not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(kind))
    for field in SYSTEM_FIELDS:
        if field not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(field))
    email = pl.col("email").str.to_lowercase()
    digits = pl.col("phone").str.replace_all(r"\D", "")
    phone = (
        pl.when(digits.str.starts_with("0"))
        .then("+84" + digits.str.slice(1))
        .when(digits.str.starts_with("84"))
        .then("+" + digits)
        .otherwise("+" + digits)
    )
    attribute_columns = [c for c in frame.columns if c not in ("row", *IDENTITY_KINDS, *SYSTEM_FIELDS)]
    numbers = [c for c in attribute_columns if raw.schema.get(_header(raw, c), pl.String).is_numeric()]
    frame = frame.with_columns(typed(c, *fields[c]) for c in ("gender", "member_level") if c in fields)
    frame = frame.with_columns(
        pl.when(email.str.contains(EMAIL)).then(email).alias("email"),
        pl.when(digits.str.len_chars().is_between(9, 12)).then(phone).alias("phone"),
        pl.col("registered_at").str.slice(0, 10) + " 00:00:00.000000",
        pl.struct([typed(c, *fields.get(c, ("number" if c in numbers else "text", []))) for c in attribute_columns])
        .struct.json_encode()
        .alias("attributes"),
    )
    valid = pl.any_horizontal(pl.col(k).is_not_null() for k in IDENTITY_KINDS)
    invalid = frame.filter(~valid).height
    return frame.filter(valid).select(STAGE_COLUMNS), invalid


def _header(raw: Any, key: str) -> str:
    return next((c for c in raw.columns if c.strip().lower().replace(" ", "_") == key), key)


def _match_sql() -> str:
    found = ", ".join(
        f"(SELECT profile_id FROM identities WHERE kind = '{kind}' AND value = stage.{kind})" for kind in IDENTITY_KINDS
    )
    return f"UPDATE stage SET profile_id = COALESCE({found})"


def apply(target: str, stage: Any, source_name: str) -> dict[str, int]:
    """Writes `stage` into the database in one transaction; returns the counts."""
    postgres = is_postgres(target)
    now = now_text()
    with transaction(target) as cur:
        columns = ", ".join(f'"{c}" {"bigint" if c == "row" else "text"}' for c in STAGE_COLUMNS)
        cur.execute(f"CREATE TEMP TABLE stage ({columns}, profile_id bigint, is_new boolean DEFAULT false)")
        write_rows(cur, postgres, "stage", stage)
        if postgres:
            cur.execute("ANALYZE stage")  # a temporary table has no statistics until asked
        cur.execute(_match_sql())
        new_id = (
            "nextval(pg_get_serial_sequence('profiles', 'id'))"
            if postgres
            else "(SELECT COALESCE(MAX(id), 0) FROM profiles) + row + 1"
        )
        cur.execute(f"UPDATE stage SET profile_id = {new_id}, is_new = true WHERE profile_id IS NULL")
        cast = (lambda v, t: f"{v}::{t}") if postgres else (lambda v, _t: v)
        p = "%s" if postgres else "?"
        cur.execute(
            "INSERT INTO profiles (id, full_name, gender, birthday, city, member_level, registered_at, "
            "status, initial_source, attributes, created_at, updated_at) "
            f"SELECT profile_id, full_name, gender, {cast('birthday', 'date')}, city, member_level, "
            f"{cast('registered_at', 'timestamptz')}, 'active', {p}, {cast('attributes', 'json')}, "
            f"{cast(p, 'timestamptz')}, {cast(p, 'timestamptz')} FROM stage WHERE is_new",
            (source_name, now, now),
        )
        created = cur.rowcount
        merged = (
            "(profiles.attributes::jsonb || s.attributes::jsonb)::json"
            if postgres
            else "json_patch(profiles.attributes, s.attributes)"
        )
        kept = ", ".join(
            f"{f} = COALESCE({cast('s.' + f, t)}, profiles.{f})"
            for f, t in (
                ("full_name", "text"),
                ("gender", "text"),
                ("birthday", "date"),
                ("city", "text"),
                ("member_level", "text"),
                ("registered_at", "timestamptz"),
            )
        )
        cur.execute(
            f"UPDATE profiles SET {kept}, attributes = {merged}, updated_at = {cast(p, 'timestamptz')} "
            "FROM stage s WHERE s.profile_id = profiles.id AND NOT s.is_new",
            (now,),
        )
        updated = cur.rowcount
        identities = 0
        for kind in IDENTITY_KINDS:
            cur.execute(
                "INSERT INTO identities (profile_id, kind, value, is_encrypted, source_type, source_name, "
                f"first_seen_at, last_seen_at) SELECT profile_id, '{kind}', {kind}, false, 'file', {p}, "
                f"{cast(p, 'timestamptz')}, {cast(p, 'timestamptz')} FROM stage WHERE {kind} IS NOT NULL "
                "ON CONFLICT (kind, value) DO NOTHING",
                (source_name, now, now),
            )
            identities += cur.rowcount
        cur.execute("DROP TABLE stage")
    return {"created": created, "updated": updated, "identities_added": identities}


def run(file: Path, target: str) -> dict[str, Any]:
    started = time.perf_counter()
    stage, invalid = prepare(read_file(file), field_types(target))
    read_s = time.perf_counter() - started
    counts = apply(target, stage, file.name)
    return {
        **counts,
        "invalid": invalid,
        "read_s": round(read_s, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), sys.argv[2])), flush=True)
