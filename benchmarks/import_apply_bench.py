"""Resolve + dry run + apply of a 50,000-row validated frame against N existing profiles.

    .venv/bin/python benchmarks/import_apply_bench.py                  # SQLite, N = 100k and 1M
    .venv/bin/python benchmarks/import_apply_bench.py --postgres       # also PostgreSQL
    .venv/bin/python benchmarks/import_apply_bench.py --sizes 100000 --rows 20000

This measures the stages this repository's apply.py/resolve.py own, from the validated
frame on (reading and validating have their own benchmarks; benchmarks/import_bench.py
runs the whole CLI path). Existing profiles are seeded inside the database with SQL
(recursive CTE / generate_series): each has an e-mail and a phone identity, a few system
fields, two custom attributes and provenance rows for full_name and city. The frame has
20 columns (e-mail, phone, 6 system fields, 11 custom fields, a tags column); 40% of its
rows match existing profiles (half by e-mail, half by phone), the rest are new people.

Each case runs in a fresh child process on a fresh copy of the seeded database, as
plan_import (the dry run) then apply_import (which plans again under locks) and commit,
and prints seconds per stage and the child's peak RSS. Seeded databases are cached in
--workdir. Time should grow with the file, not the database: compare 100k with 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time inside the child process that needs it
    import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SEED_VERSION = "v1"
CUSTOM = [
    ("address", "text"),
    ("district", "text"),
    ("company", "text"),
    ("job_title", "text"),
    ("notes", "text"),
    ("total_spent", "number"),
    ("loyalty_points", "number"),
    ("last_purchase", "date"),
    ("customer_since", "date"),
    ("newsletter", "boolean"),
    ("preferred_channel", "single_choice"),
]


# ---------------------------------------------------------------- seeding (SQL inside the DB)
def _seed_sql(dialect: str, n: int) -> list[str]:
    if dialect == "sqlite":
        series = f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n})"
        phone = "'+8490' || printf('%07d', x)"
        ts = "'2024-01-01 00:00:00.000000'"
        false = "0"
        attrs = "'{\"company\": \"Co ' || (x % 100) || '\", \"total_spent\": ' || (x % 1000) || '}'"
        return [
            f"{series} INSERT INTO profiles (id, full_name, gender, city, member_level, registered_at, "
            f"status, initial_source, attributes, created_at, updated_at) SELECT x, 'Person ' || x, "
            f"CASE x % 2 WHEN 0 THEN 'Female' ELSE 'Male' END, 'City ' || (x % 50), 'Silver', {ts}, "
            f"'active', 'seed', {attrs}, {ts}, {ts} FROM c",
            f"{series} INSERT INTO identities (profile_id, kind, value, is_encrypted, source_type, "
            f"first_seen_at, last_seen_at) SELECT x, 'email', 'user' || x || '@example.com', {false}, "
            f"'seed', {ts}, {ts} FROM c",
            f"{series} INSERT INTO identities (profile_id, kind, value, is_encrypted, source_type, "
            f"first_seen_at, last_seen_at) SELECT x, 'phone', {phone}, {false}, 'seed', {ts}, {ts} FROM c",
            f"{series} INSERT INTO attribute_provenance (profile_id, field_key, source_type, set_at, locked) "
            f"SELECT x, 'full_name', 'seed', {ts}, {false} FROM c",
            f"{series} INSERT INTO attribute_provenance (profile_id, field_key, source_type, set_at, locked) "
            f"SELECT x, 'city', 'seed', {ts}, {false} FROM c",
            "ANALYZE",
        ]
    series = f"generate_series(1, {n}) AS x"
    ts = "'2024-01-01 00:00:00+00'"
    return [
        f"INSERT INTO profiles (id, full_name, gender, city, member_level, registered_at, status, "
        f"initial_source, attributes, created_at, updated_at) SELECT x, 'Person ' || x, "
        f"CASE x % 2 WHEN 0 THEN 'Female' ELSE 'Male' END, 'City ' || (x % 50), 'Silver', {ts}, 'active', "
        f"'seed', json_build_object('company', 'Co ' || (x % 100), 'total_spent', x % 1000), {ts}, {ts} "
        f"FROM {series}",
        f"INSERT INTO identities (profile_id, kind, value, is_encrypted, source_type, first_seen_at, "
        f"last_seen_at) SELECT x, 'email', 'user' || x || '@example.com', false, 'seed', {ts}, {ts} FROM {series}",
        f"INSERT INTO identities (profile_id, kind, value, is_encrypted, source_type, first_seen_at, "
        f"last_seen_at) SELECT x, 'phone', '+8490' || lpad(x::text, 7, '0'), false, 'seed', {ts}, {ts} "
        f"FROM {series}",
        f"INSERT INTO attribute_provenance (profile_id, field_key, source_type, set_at, locked) "
        f"SELECT x, 'full_name', 'seed', {ts}, false FROM {series}",
        f"INSERT INTO attribute_provenance (profile_id, field_key, source_type, set_at, locked) "
        f"SELECT x, 'city', 'seed', {ts}, false FROM {series}",
        "SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))",
        "SELECT setval(pg_get_serial_sequence('identities', 'id'), (SELECT max(id) FROM identities))",
        "ANALYZE",
    ]


def _seed(url: str, n: int) -> None:
    import sqlalchemy as sa
    from sqlmodel import Session

    from profile_ui.cli import upgrade_database
    from profile_ui.db import make_engine
    from profile_ui.models import FieldDefinition

    upgrade_database(url)
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        for position, (key, type_) in enumerate(CUSTOM, start=100):
            session.add(FieldDefinition(key=key, label=key.replace("_", " ").title(), type=type_, position=position))
        session.flush()
        for statement in _seed_sql(engine.dialect.name, n)[:-1]:
            session.execute(sa.text(statement))
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    print(f"  seeded {n:,} profiles in {time.perf_counter() - started:.1f} s", flush=True)


def _pg_url(name: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def _pg_exists(name: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    engine.dispose()
    return found is not None


def prepare(backend: str, n: int, workdir: Path) -> str:
    """A fresh database holding the N seeded profiles; returns its URL."""
    if backend == "sqlite":
        seeded = workdir / f"seed-{SEED_VERSION}-{n}.db"
        if not seeded.exists():
            tmp = seeded.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            _seed(f"sqlite:///{tmp}", n)
            tmp.rename(seeded)
        run = workdir / f"run-{n}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{run}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(seeded, run)
        return f"sqlite:///{run}"
    template = f"pu_apply_bench_{SEED_VERSION}_{n}"
    if not _pg_exists(template):
        _pg_admin(f'CREATE DATABASE "{template}_tmp"')
        _seed(_pg_url(f"{template}_tmp"), n)
        _pg_admin(f'ALTER DATABASE "{template}_tmp" RENAME TO "{template}"')
    run = f"pu_apply_run_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{run}" TEMPLATE "{template}"')
    return _pg_url(run)


# ---------------------------------------------------------------- the file
def make_frame(rows: int, n_existing: int, seed: int = 7) -> pl.DataFrame:
    """The validated frame: 40% of rows match existing profiles (half by e-mail, half by phone)."""
    from datetime import UTC, date, datetime, timedelta

    import numpy as np
    import polars as pl

    from profile_ui.services.importing import ERRORS_COL, ROW_COL, TAGS_TARGET, VALID_COL

    rng = np.random.default_rng(seed)
    matched = int(rows * 0.4)
    existing = rng.choice(np.arange(1, n_existing + 1), size=matched, replace=False)
    by_email = np.arange(rows) < matched // 2
    by_phone = (np.arange(rows) >= matched // 2) & (np.arange(rows) < matched)
    ids = np.concatenate([existing, np.arange(n_existing + 1, n_existing + 1 + rows - matched)])
    email = pl.Series([f"user{i}@example.com" for i in ids])
    phone = pl.Series([f"+8490{i:07d}" if i <= 9_999_999 else f"+8491{i % 10_000_000:07d}" for i in ids])
    cities = [f"City {i}" for i in range(60)]
    day0 = date(1960, 1, 1)
    frame = pl.DataFrame(
        {
            ROW_COL: pl.Series(np.arange(2, rows + 2), dtype=pl.Int64),
            "identity:email": email.zip_with(pl.Series(~by_phone), pl.Series([None] * rows, dtype=pl.Utf8)),
            "identity:phone": phone.zip_with(pl.Series(~by_email), pl.Series([None] * rows, dtype=pl.Utf8)),
            "full_name": [f"Person {i}" if rng.random() < 0.5 else f"Renamed {i}" for i in ids],
            "gender": rng.choice(["Male", "Female", "Other"], size=rows).tolist(),
            "birthday": [day0 + timedelta(days=int(x)) for x in rng.integers(0, 15000, rows)],
            "city": rng.choice(cities, size=rows).tolist(),
            "member_level": rng.choice(["Bronze", "Silver", "Gold", "Platinum"], size=rows).tolist(),
            "registered_at": [
                datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=int(x)) for x in rng.integers(0, 2_000_000, rows)
            ],
            "address": [f"{int(x)} Main Street" for x in rng.integers(1, 999, rows)],
            "district": rng.choice([f"District {i}" for i in range(12)], size=rows).tolist(),
            "company": [f"Co {int(x)}" for x in rng.integers(0, 100, rows)],
            "job_title": rng.choice(["Engineer", "Teacher", "Doctor", "Clerk"], size=rows).tolist(),
            "notes": [None if x < 0.7 else "called back" for x in rng.random(rows)],
            "total_spent": rng.integers(0, 1000, rows).astype(float),
            "loyalty_points": rng.integers(0, 5000, rows).astype(float),
            "last_purchase": [date(2024, 1, 1) + timedelta(days=int(x)) for x in rng.integers(0, 365, rows)],
            "customer_since": [date(2015, 1, 1) + timedelta(days=int(x)) for x in rng.integers(0, 3000, rows)],
            "newsletter": (rng.random(rows) < 0.5).tolist(),
            "preferred_channel": rng.choice(["Email", "SMS", "Push", "Phone"], size=rows).tolist(),
            TAGS_TARGET: [["vip", "2024"] if x < 0.1 else (["lead"] if x < 0.3 else None) for x in rng.random(rows)],
        }
    ).with_columns(pl.col("registered_at").cast(pl.Datetime("us", "UTC")))
    frame = frame.with_columns(
        pl.lit([], dtype=pl.List(pl.Struct({"column": pl.Utf8, "message": pl.Utf8}))).alias(ERRORS_COL),
        pl.lit(True).alias(VALID_COL),
    )
    return frame


# ---------------------------------------------------------------- one measured run (child)
def worker(url: str, n: int, rows: int) -> dict:
    import polars as pl  # noqa: F401  (loaded before the clock starts)
    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.models import ImportJob
    from profile_ui.services.catalog import active_sync_rule
    from profile_ui.services.importing import ImportMapping, ImportOptions
    from profile_ui.services.importing.apply import apply_import
    from profile_ui.services.importing.plan import plan_import
    from profile_ui.services.permissions import SYSTEM_ACTOR

    frame = make_frame(rows, n)
    mapping = ImportMapping(columns={c: c for c in frame.columns}, identifiers=["email", "phone"])
    options = ImportOptions(consent={"email": "granted"})
    engine = make_engine(url)
    figures: dict = {}
    with Session(engine, expire_on_commit=False) as session:
        rule = active_sync_rule(session)
        job = ImportJob(batch_id=str(uuid.uuid4()), file_name="bench.xlsx", status="running")
        session.add(job)
        session.commit()
        cpu_started = time.process_time()
        started = time.perf_counter()
        plan = plan_import(
            session=session,
            actor=SYSTEM_ACTOR,
            frame=frame,
            mapping=mapping,
            options=options,
            sync_rule=rule,
            file_name=job.file_name,
        )
        figures["dry_run_s"] = round(time.perf_counter() - started, 2)
        session.rollback()
        started = time.perf_counter()
        plan = apply_import(
            session=session, actor=SYSTEM_ACTOR, job=job, frame=frame, mapping=mapping, options=options, sync_rule=rule
        )
        figures["apply_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        session.commit()
        figures["commit_s"] = round(time.perf_counter() - started, 2)
    figures["total_s"] = round(figures["dry_run_s"] + figures["apply_s"] + figures["commit_s"], 2)
    # this process's CPU seconds: on a busy machine a steadier figure than wall time (SQLite
    # runs in-process; PostgreSQL's own work is not in it)
    figures["cpu_s"] = round(time.process_time() - cpu_started, 2)
    figures["counts"] = {k: plan.totals[k] for k in ("created", "updated", "unchanged", "invalid")}
    figures["peak_rss_mb"] = _peak_rss_mb()
    engine.dispose()
    return figures


def _peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: ru_maxrss can carry the parent's across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="existing profiles, comma-separated")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", default="/tmp/profile-ui-apply-bench")
    parser.add_argument("--worker", nargs=3, metavar=("URL", "N", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, n, rows = args.worker
        print(json.dumps(worker(url, int(n), int(rows))))
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if args.postgres else [])
    for backend in backends:
        for n in [int(x) for x in args.sizes.split(",")]:
            print(f"{backend}, {n:,} existing profiles, {args.rows:,} rows:", flush=True)
            url = prepare(backend, n, workdir)
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", url, str(n), str(args.rows)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode:
                    print(out.stderr[-4000:])
                    continue
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"  dry run {figures['dry_run_s']} s, apply {figures['apply_s']} s, commit "
                    f"{figures['commit_s']} s, total {figures['total_s']} s "
                    f"(process CPU {figures['cpu_s']} s), peak RSS "
                    f"{figures['peak_rss_mb']} MB, counts {figures['counts']}",
                    flush=True,
                )
            finally:
                if backend == "postgres":
                    _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
