"""Export floor: every active profile, all fields, to CSV, the plainest fast way.

    .venv/bin/python benchmarks/floors/export_floor.py (SQLITE_FILE | POSTGRES_URL) OUT.csv

Reads the product's tables whole (sqlite3 cursor rows / psycopg `COPY … TO STDOUT`) into
polars, groups the related rows in polars and writes one CSV with the same columns as the
product's "All fields" export: id, one column per identity kind (values joined by "|"),
the system fields, each custom field, one column per tag ("Yes" for a tag without a
value), segments ("name: value"), groups ("name (state)"), initial source, created and
updated. No permissions, audit, file encryption or streaming in chunks. Prints one JSON
line: rows and seconds.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import connect, is_postgres

SEPARATOR = "|"
SYSTEM = ["full_name", "gender", "birthday", "city", "member_level", "registered_at"]


def read(conn: Any, postgres: bool, sql: str, names: list[str]) -> Any:
    """All rows of `sql` as a frame of text columns."""
    schema = dict.fromkeys(names, pl.String)
    if postgres:
        buffer = io.BytesIO()
        with conn.cursor().copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, new_columns=names, schema=schema)
    cursor = conn.execute(sql)  # in slices: a million rows as Python tuples at once would take GBs
    parts = [pl.DataFrame(rows, schema=schema, orient="row") for rows in iter(lambda: cursor.fetchmany(100_000), [])]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def joined(frame: Any, key: str, value: Any, name: str) -> Any:
    return (
        frame.group_by(key)
        .agg(value.str.join(SEPARATOR).alias(name))
        .rename({key: "id"})
        .with_columns(pl.col("id").cast(pl.Int64))
    )


def export(target: str, out: Path) -> int:
    postgres = is_postgres(target)
    conn = connect(target)
    try:
        fields = [
            row[0]
            for row in _rows(conn, "SELECT key FROM field_definitions WHERE NOT is_system ORDER BY position, key")
        ]
        kinds = [row[0] for row in _rows(conn, "SELECT key FROM identity_kinds ORDER BY position, key")]
        tags = _rows(conn, "SELECT id, name FROM tags ORDER BY id")
        cols = ["id", *SYSTEM, "attributes", "initial_source", "created_at", "updated_at"]
        text = ", ".join(f"{c}::text" if postgres else c for c in cols)
        profiles = read(conn, postgres, f"SELECT {text} FROM profiles WHERE status = 'active' ORDER BY id", cols)
        identities = read(
            conn,
            postgres,
            "SELECT profile_id, kind, value FROM identities ORDER BY profile_id, id",
            ["profile_id", "kind", "value"],
        )
        profile_tags = read(
            conn,
            postgres,
            "SELECT profile_id, tag_id, value FROM profile_tags ORDER BY id",
            ["profile_id", "tag_id", "value"],
        )
        segments = read(
            conn,
            postgres,
            "SELECT m.profile_id, s.name, m.value FROM segment_members m "
            "JOIN segments s ON s.id = m.segment_id ORDER BY s.name",
            ["profile_id", "name", "value"],
        )
        groups = read(
            conn,
            postgres,
            "SELECT m.profile_id, g.name, m.state FROM group_memberships m "
            "JOIN groups g ON g.id = m.group_id ORDER BY g.name",
            ["profile_id", "name", "state"],
        )
    finally:
        conn.close()

    # times to the second, as the product writes them (SQLite keeps microseconds, PostgreSQL a zone)
    frame = profiles.with_columns(
        pl.col("id").cast(pl.Int64), pl.col("registered_at", "created_at", "updated_at").str.slice(0, 19)
    )
    frame = frame.with_columns([pl.col("attributes").str.json_path_match(f"$.{key}").alias(key) for key in fields])
    for kind in kinds:
        frame = frame.join(
            joined(identities.filter(pl.col("kind") == kind), "profile_id", pl.col("value"), kind), on="id", how="left"
        )
    cell = pl.when(pl.col("value").fill_null("") == "").then(pl.lit("Yes")).otherwise(pl.col("value"))
    for tag_id, name in tags:
        frame = frame.join(
            joined(profile_tags.filter(pl.col("tag_id") == str(tag_id)), "profile_id", cell, f"tag: {name}"),
            on="id",
            how="left",
        )
    segment_cell = (
        pl.when(pl.col("value").fill_null("") == "")
        .then(pl.col("name"))
        .otherwise(pl.col("name") + ": " + pl.col("value"))
    )
    frame = frame.join(joined(segments, "profile_id", segment_cell, "segments"), on="id", how="left")
    frame = frame.join(
        joined(groups, "profile_id", pl.col("name") + " (" + pl.col("state") + ")", "groups"), on="id", how="left"
    )
    ordered = [
        "id",
        *kinds,
        *SYSTEM,
        *fields,
        *[f"tag: {n}" for _i, n in tags],
        "segments",
        "groups",
        "initial_source",
        "created_at",
        "updated_at",
    ]
    frame.select(ordered).sort("id").write_csv(out)
    return frame.height


def _rows(conn: Any, sql: str) -> list[tuple]:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def run(target: str, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rows = export(target, out)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 3), "bytes": out.stat().st_size}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]))), flush=True)
