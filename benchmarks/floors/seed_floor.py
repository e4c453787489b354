"""Seed floor: N demo profiles and their related rows, the plainest fast way.

    .venv/bin/python benchmarks/floors/seed_floor.py (SQLITE_FILE | POSTGRES_URL) PROFILES RELATED

Into a migrated, empty database: generates the profiles with numpy + polars (name,
gender, birthday, city, level, registration date, two custom attributes), their three
identities (user_id, email, phone; `identities` keyed by (kind, value)) and, to reach
RELATED related rows in all (the count the product's seed printed), tag values spread over
four tags; writes them in ONE transaction (sqlite3 executemany / psycopg COPY, the tables'
plain secondary indexes, and on PostgreSQL their foreign keys, dropped and made again after the load;
unique indexes kept, as the product's seed keeps them). The
product's seed also draws segments, groups, consent and links with realistic shapes: the
floor's related rows stand for them by count, not by kind. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import is_postgres, now_text, transaction, write_rows

TAGS = ("Stage", "Interest", "Newsletter subscriber", "Tet 2025 promo")


def frames(profiles: int, related: int, now: str, seed: int = 42) -> dict[str, Any]:
    """The rows to write, table by table (ids from 1: the database is empty)."""
    rng = np.random.default_rng(seed)
    ids = pl.Series("id", np.arange(1, profiles + 1, dtype=np.int64))

    def pick(values: list[str]) -> pl.Series:
        return pl.Series(np.array(values, dtype=object)[rng.integers(0, len(values), size=profiles)], dtype=pl.String)

    days = rng.integers(0, 17000, size=profiles)
    profile = pl.DataFrame(
        {
            "id": ids,
            "full_name": pick(["Nguyễn", "Trần", "Lê", "Phạm", "Smith"])
            + " "
            + pick(["Văn", "Thị", "Minh"])
            + " "
            + pick(["An", "Bình", "Chi", "Lan", "Minh", "Emma", "Lucas"]),
            "gender": pick(["male", "female", "other"]),
            "birthday": pl.Series(days, dtype=pl.Int32).cast(pl.Date).dt.offset_by("-10y").dt.strftime("%Y-%m-%d"),
            "city": pick(["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Huế"]),
            "member_level": pick(["Bronze", "Silver", "Gold", "Platinum"]),
            "registered_at": pl.Series(days // 3, dtype=pl.Int32)
            .cast(pl.Date)
            .dt.offset_by("49y")
            .dt.strftime("%Y-%m-%d 00:00:00.000000"),
            "status": pl.repeat("active", profiles, eager=True),
            "initial_source": pl.repeat("seed", profiles, eager=True),
            "attributes": pl.DataFrame(
                {
                    "loyalty_points": rng.integers(0, 20000, size=profiles),
                    "preferred_store": pick(["Crescent Mall", "Online store"]),
                }
            )
            .select(pl.struct(pl.all()).struct.json_encode())
            .to_series(),
            "created_at": pl.repeat(now, profiles, eager=True),
            "updated_at": pl.repeat(now, profiles, eager=True),
        }
    )
    text_id = ids.cast(pl.String).str.zfill(7)
    identity = pl.concat(
        [
            pl.DataFrame({"profile_id": ids, "kind": pl.repeat(kind, profiles, eager=True), "value": values})
            for kind, values in (
                ("user_id", "U" + text_id),
                ("email", "seed." + text_id + "@example.com"),
                ("phone", "+8490" + text_id),
            )
        ]
    ).with_columns(
        is_encrypted=pl.lit(False),
        source_type=pl.lit("seed"),
        source_name=pl.lit("seed"),
        first_seen_at=pl.lit(now),
        last_seen_at=pl.lit(now),
    )
    extra = max(0, related - identity.height)
    tag_rows = pl.DataFrame(
        {
            "profile_id": pl.Series(np.arange(extra, dtype=np.int64) % max(profiles, 1) + 1),
            "tag_id": pl.Series(np.arange(extra, dtype=np.int64) // max(profiles, 1) % len(TAGS) + 1),
            "value": pl.Series(np.arange(extra, dtype=np.int64) // max(profiles * len(TAGS), 1)).cast(pl.String),
        }
    ).with_columns(source=pl.lit("seed"), created_at=pl.lit(now))
    return {"profiles": profile, "identities": identity, "profile_tags": tag_rows}


def write(target: str, tables: dict[str, Any]) -> int:
    postgres = is_postgres(target)
    written = 0
    with transaction(target, bulk=True) as cur:
        cur.execute("INSERT INTO tag_groups (id, name) VALUES (1, 'Seed floor')")
        for number, name in enumerate(TAGS, start=1):
            cur.execute(f"INSERT INTO tags (id, group_id, name, kind) VALUES ({number}, 1, '{name}', 'text')")
        listed = ", ".join(repr(t) for t in tables)
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND "
            f"tablename IN ({listed}) AND indexname NOT IN (SELECT conname FROM pg_constraint) "
            "AND indexdef NOT LIKE 'CREATE UNIQUE%'"
            if postgres
            else "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({listed}) AND sql NOT LIKE 'CREATE UNIQUE%'"
        )
        indexes = cur.fetchall()
        # the plain indexes are built once after the load rather than row by row; unique
        # ones stay, as in the product's seed: they hold what the identities' sort-key
        # triggers (migration 0013) seek, which would otherwise scan the table per row
        for name, _sql in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        foreign_keys = []
        if postgres:  # checked by one join when added again, not by a trigger per row
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                f"WHERE contype = 'f' AND conrelid::regclass::text IN ({listed})"
            )
            foreign_keys = cur.fetchall()
            for table, name, _definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for table, frame in tables.items():
            write_rows(cur, postgres, table, frame)
            written += frame.height
        for _name, sql in indexes:
            cur.execute(sql)
        for table, name, definition in foreign_keys:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        if postgres:
            for table in ("profiles", "identities", "profile_tags", "tag_groups", "tags"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
    return written


def run(target: str, profiles: int, related: int) -> dict[str, Any]:
    started = time.perf_counter()
    tables = frames(profiles, related, now_text())
    rows = write(target, tables)
    return {
        "profiles": tables["profiles"].height,
        "related": rows - tables["profiles"].height,
        "seconds": round(time.perf_counter() - started, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))), flush=True)
