"""Demo seed benchmark: how long `profile-ui seed --profiles N` takes on a fresh database.

    .venv/bin/python benchmarks/seed_bench.py                      # 1,000,000 profiles, SQLite
    .venv/bin/python benchmarks/seed_bench.py --postgres           # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/seed_bench.py --profiles 200000 --postgres --skip-sqlite

Runs the real commands in a child process, as a person would: `profile-ui db upgrade`,
then `profile-ui seed --profiles N` (timed), against a temporary SQLite file or a
PostgreSQL database of its own on 127.0.0.1:5432 (created, then dropped). Prints wall
seconds, the child's CPU seconds (PostgreSQL's own work is not in them), rows written,
database size and the machine's load average, since this machine is shared. Target
(issue 2): 1,000,000 profiles in under 180 s. Figures are printed, never asserted.

With --floor (the default) each backend then runs benchmarks/floors/seed_floor.py (no
product code: numpy + polars rows, one transaction of sqlite3 executemany / psycopg COPY)
into another freshly upgraded database, writing as many profiles and related rows as the
product's seed printed, and prints its seconds and `ratio product/floor`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "profile-ui")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TARGET_SECONDS = 180.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_seed(
    label: str, database_url: str, data_dir: Path, profiles: int, random_seed: int, size: Callable[[], int]
) -> tuple[float, int]:
    """Runs and prints the product's seed; returns its wall seconds and related rows."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "ENVIRONMENT": "development"}
    subprocess.run([CLI, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    load = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        [CLI, "seed", "--profiles", str(profiles), "--seed", str(random_seed)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if result.returncode:
        print(result.stdout, result.stderr, file=sys.stderr)
        raise SystemExit(f"{label}: seed failed")
    match = re.search(r"seeded ([\d,]+) profiles and ([\d,]+) related rows", result.stdout)
    related = match.group(2) if match else "?"
    verdict = "ok" if wall < TARGET_SECONDS or profiles < 1_000_000 else "OVER TARGET"
    print(
        f"{label:<10} {profiles:>10,} profiles + {related:>11} related rows: {wall:7.1f} s wall, "
        f"{cpu:6.1f} s CPU (seed process), db {size() / 2**20:,.0f} MiB, "
        f"load avg at start {load:.1f}  [{verdict}; target < {TARGET_SECONDS:.0f} s for 1M]"
    )
    sys.stdout.flush()
    # the seed's own time (printed by the command) leaves out the start of the CLI process
    own = re.search(r"related rows in ([\d.]+) s", result.stdout)
    return float(own.group(1)) if own else wall, int(related.replace(",", "")) if match else 0


def run_floor(label: str, database_url: str, data_dir: Path, profiles: int, related: int, product_s: float) -> None:
    """benchmarks/floors/seed_floor.py into a freshly upgraded database; prints the ratio."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "ENVIRONMENT": "development"}
    subprocess.run([CLI, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    floor = ROOT / "benchmarks" / "floors" / "seed_floor.py"
    target = database_url.removeprefix("sqlite:///")
    result = subprocess.run(
        [sys.executable, str(floor), target, str(profiles), str(related)], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        print(result.stdout, result.stderr, file=sys.stderr)
        raise SystemExit(f"{label}: seed floor failed")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"{label + ' floor':<16} {figures['profiles']:>10,} profiles + {figures['related']:>11,} related rows: "
        f"{figures['seconds']:7.1f} s wall; ratio product/floor {product_s / figures['seconds']:.2f} "
        f"(the seed's own {product_s:.1f} s), "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def bench_sqlite(profiles: int, random_seed: int, floor: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="profile-ui-seed-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        wall, related = run_seed(
            "sqlite",
            f"sqlite:///{path}",
            Path(tmp),
            profiles,
            random_seed,
            lambda: sum(p.stat().st_size for p in Path(tmp).glob("bench.db*")),
        )
        if floor:
            run_floor("sqlite", f"sqlite:///{Path(tmp) / 'floor.db'}", Path(tmp), profiles, related, wall)


def bench_postgres(profiles: int, random_seed: int, floor: bool) -> None:
    import sqlalchemy as sa

    name = f"pu_seed_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    floor_url = url.replace(name, f"{name}_floor")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        if floor:
            conn.execute(sa.text(f'CREATE DATABASE "{name}_floor"'))

    def size() -> int:
        with admin.connect() as conn:
            return conn.execute(sa.text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one()

    try:
        with tempfile.TemporaryDirectory(prefix="profile-ui-seed-bench-") as tmp:
            wall, related = run_seed("postgres", url, Path(tmp), profiles, random_seed, size)
            if floor:
                run_floor("postgres", floor_url, Path(tmp), profiles, related, wall)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}_floor" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", action="store_true", help="also seed a PostgreSQL database")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run benchmarks/floors/seed_floor.py and print the ratio",
    )
    args = parser.parse_args()
    print(f"profile-ui seed --profiles {args.profiles:,} on a fresh database ({os.cpu_count()} CPUs)")
    if not args.skip_sqlite:
        bench_sqlite(args.profiles, args.seed, args.floor)
    if args.postgres:
        bench_postgres(args.profiles, args.seed, args.floor)


if __name__ == "__main__":
    main()
